import { accessSync, constants, lstatSync, readdirSync, readlinkSync, type Stats } from "node:fs";
import { stat } from "node:fs/promises";
import { isAbsolute, join, posix, relative, resolve, sep } from "node:path";
import { pipeline, Readable } from "node:stream";
import { PreviewError } from "../errors.js";
import type { BufferPool } from "./buffer-pool.js";
import { isGitConfig, rewriteGitConfig } from "./context-credentials.js";
import { contextReadPool, readLargeFile, readSmallFile, SMALL_FILE } from "./context-fs.js";
import { type TarEntry, tarEnd, tarHeader, tarPadding } from "./context-tar.js";
import { ContextUpload } from "./context-upload.js";
import { type ContextFilter, contextFilter, type ParentMatches, readIgnoreFile } from "./dockerignore.js";

/** The build context as a tar stream that is produced while it is read, never held whole in memory. */
export interface ContextStream {
  /** Uncompressed tar, as the docker CLI sends it (it does not gzip by default either). */
  readonly stream: NodeJS.ReadableStream;
  /** Bytes of tar read from `stream` so far: the upload size once the stream has ended. */
  sentBytes(): number;
  /** Entries (files, directories, links, FIFOs, devices) put into the tar so far. */
  sentEntries(): number;
  /** Why reading the context failed (a file that changed while sent, say); the stream is destroyed with it too. */
  readError(): Error | undefined;
  /** Git config files sent without their credential (see context-credentials.ts), context-relative. */
  readonly credentialsLeftOut: readonly string[];
}

/** An entry to send; `content` when it is not sent as on disk (a git config without its credential). */
type PlannedEntry = TarEntry & { readonly content?: Buffer };

/** Small entries are sent in batches of about this many bytes (fewer, larger writes to the engine). */
const BATCH = 256 << 10;

/**
 * Streams `contextDir` as a tar, entry for entry what the docker CLI (`docker build`, moby's
 * archive.TarWithOptions) sends: the ignore file applied as its pattern matcher does, excluded
 * directories walked only when an exception may reach inside; modes as on disk, whole-second mtimes of
 * any year, hardlinks as links, FIFOs and devices as such (never opened, so never a hang), sockets left
 * out, directory names ending in "/", owners 0:0 — and one deliberate difference: git config files go without
 * their `extraheader` credential (context-credentials.ts). The walk happens first, so a file that cannot be read
 * fails here, before any request, naming it. `dockerfile` is relative to `contextDir`, inside it.
 * This is the classic builder's context; BuildKit pulls its own through a session (build-session.ts).
 * Memory does not grow with the context's bytes: one file is read at a time and the consumer's
 * backpressure (the HTTP upload to the engine) paces the reads. The walk keeps one small record per entry
 * (100k files: ~60 MB more, ~3.5 s of CPU where the docker CLI takes ~10 s).
 */
export async function createContextStream(contextDir: string, dockerfile: string): Promise<ContextStream> {
  const root = resolve(contextDir);
  const dockerfilePath = await checkLayout(root, dockerfile);
  const ignore = readIgnoreFile(root, dockerfilePath, false);
  // The classic builder reads both from the tar and removes them itself when ignored.
  const planned = walk(root, contextFilter(ignore, [".dockerignore", dockerfilePath]));

  let entries = 0;
  let failure: Error | undefined;
  const pool = contextReadPool();
  const tar = Readable.from(
    tarChunks(root, planned, pool, () => entries++),
    { objectMode: false },
  );
  const upload = new ContextUpload(pool);
  tar.on("error", (err: Error) => {
    failure ??= err;
  });
  // pipeline destroys the tar when the consumer goes away (a cancelled build), and passes tar errors on.
  pipeline(tar, upload, () => {});
  return {
    stream: upload,
    sentBytes: () => upload.sentBytes(),
    sentEntries: () => entries,
    readError: () => failure,
    credentialsLeftOut: rewrittenNames(planned),
  };
}

function rewrittenNames(planned: readonly PlannedEntry[]): string[] {
  return planned.filter((e) => e.content !== undefined).map((e) => e.name);
}

/**
 * The context BuildKit will pull through its session, checked before anything starts as the classic
 * path checks its tar: the layout, BuildKit's ignore file (`<Dockerfile>.dockerignore` first), its
 * patterns, and every entry it leaves in readable. Resolves with the root, the context-relative
 * Dockerfile and the git config files whose credential the session leaves out (context-sync.ts).
 * (The engine applies the patterns itself, asking for the context through the session.)
 */
export async function checkSessionContext(
  contextDir: string,
  dockerfile: string,
): Promise<{ root: string; dockerfile: string; credentials: string[] }> {
  const root = resolve(contextDir);
  const rel = await checkLayout(root, dockerfile);
  const planned = walk(root, contextFilter(readIgnoreFile(root, rel, true), []));
  return { root, dockerfile: rel, credentials: rewrittenNames(planned) };
}

/** Resolves the Dockerfile to a context-relative POSIX path, or says what is wrong with the layout. */
async function checkLayout(root: string, dockerfile: string): Promise<string> {
  const rootStat = await stat(root).catch(() => undefined);
  if (!rootStat?.isDirectory()) {
    throw new PreviewError(
      "build",
      `The build context ${root} is not a directory. Set \`context\` to the folder that holds your app.`,
      { code: "DOCKER_CONTEXT" },
    );
  }
  const rel = relative(root, resolve(root, dockerfile)).split(sep).join("/");
  if (isAbsolute(rel) || rel === ".." || rel.startsWith("../")) {
    throw new PreviewError(
      "build",
      `The Dockerfile ${dockerfile} is outside the build context ${root}. Put it inside the context.`,
      { code: "DOCKER_CONTEXT" },
    );
  }
  const fileStat = await stat(join(root, rel)).catch(() => undefined);
  if (!fileStat?.isFile()) {
    throw new PreviewError(
      "build",
      `No Dockerfile at ${posix.join(root.split(sep).join("/"), rel)}. Set \`dockerfile\` (relative to \`context\`) to your Dockerfile.`,
      { code: "DOCKER_CONTEXT" },
    );
  }
  return rel;
}

/** Go's lexical order of file names: by UTF-8 bytes (JavaScript's sort compares UTF-16 units). */
export function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/**
 * Everything to send, in moby's walk order (filepath.WalkDir: a directory, then its sorted contents),
 * checked readable as the CLI's ValidateContextDirectory checks it.
 */
function walk(root: string, filter: ContextFilter): PlannedEntry[] {
  const planned: PlannedEntry[] = [];
  const firstNames = new Map<number, string>();
  const visit = (dir: string, dirRel: string, parent: ParentMatches) => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch (err) {
      throw unreadable(root, dirRel || ".", true, err as NodeJS.ErrnoException);
    }
    for (const name of names.sort(byteOrder)) {
      const rel = dirRel ? `${dirRel}/${name}` : name;
      const path = join(dir, name);
      let stats: Stats;
      try {
        stats = lstatSync(path);
      } catch (err) {
        // Gone since the readdir: moby skips it too.
        if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
        throw unreadable(root, rel, false, err as NodeJS.ErrnoException);
      }
      const matched = filter.match(rel, parent);
      if (matched.excluded) {
        if (stats.isDirectory() && filter.mustWalk(rel)) visit(path, rel, matched.matches);
        continue;
      }
      const entry = tarEntry(root, rel, path, stats, firstNames);
      if (entry) planned.push(entry);
      if (stats.isDirectory()) visit(path, rel, matched.matches);
    }
  };
  visit(root, "", undefined);
  return planned;
}

/** The tar header moby writes for a path (FileInfoHeader + hardlink detection); none for a socket. */
function tarEntry(
  root: string,
  rel: string,
  path: string,
  stats: Stats,
  firstNames: Map<number, string>,
): PlannedEntry | undefined {
  const base = { mode: stats.mode & 0o7777, mtime: Math.floor(stats.mtimeMs / 1000), size: 0 };
  if (stats.isDirectory()) return { ...base, name: `${rel}/`, type: "directory" };
  // Before the hardlink check: a git config sent without its credential is never a link to the original.
  if (stats.isFile() && isGitConfig(rel)) {
    checkReadable(root, rel, path);
    const rewritten = rewriteGitConfig(path, stats.size);
    if (rewritten) return { ...base, name: rel, type: "file", size: rewritten.content.length, ...rewritten };
  }
  // A link is to the first name of the inode in the tar, as moby does; its bytes travel once.
  if (stats.nlink > 1) {
    const first = firstNames.get(stats.ino);
    if (first !== undefined) return { ...base, name: rel, type: "hardlink", linkname: first };
    firstNames.set(stats.ino, rel);
  }
  if (stats.isSymbolicLink()) return { ...base, name: rel, type: "symlink", linkname: readlinkSync(path) };
  if (stats.isFIFO()) return { ...base, name: rel, type: "fifo" };
  if (stats.isCharacterDevice() || stats.isBlockDevice()) {
    const { rdev } = stats;
    return {
      ...base,
      name: rel,
      type: stats.isCharacterDevice() ? "char" : "block",
      devmajor: ((rdev >>> 8) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff),
      devminor: (rdev & 0xff) | ((rdev >>> 12) & ~0xff & 0xfffff),
    };
  }
  if (!stats.isFile()) return undefined;
  checkReadable(root, rel, path);
  return { ...base, name: rel, type: "file", size: stats.size };
}

function checkReadable(root: string, rel: string, path: string): void {
  try {
    accessSync(path, constants.R_OK);
  } catch (err) {
    throw unreadable(root, rel, false, err as NodeJS.ErrnoException);
  }
}

function unreadable(root: string, rel: string, directory: boolean, err: NodeJS.ErrnoException): PreviewError {
  const why = err.code === "EACCES" || err.code === "EPERM" ? "permission denied" : err.message;
  const fix = directory ? `chmod a+rx '${rel}'` : `chmod a+r '${rel}'`;
  return new PreviewError(
    "build",
    `The build context cannot be sent: ${rel}${directory && rel !== "." ? "/" : ""} in ${root} cannot be read (${why}); docker build refuses it too. Make it readable (${fix}, or chown it back from a root-owned container step), or list it in .dockerignore.`,
    { code: "DOCKER_CONTEXT", cause: err },
  );
}

/** The tar, entry by entry: headers and small files batched, large files streamed in pooled pieces. */
async function* tarChunks(
  root: string,
  planned: readonly PlannedEntry[],
  pool: BufferPool,
  counted: () => void,
): AsyncGenerator<Buffer> {
  let batch: Buffer[] = [];
  let batched = 0;
  const add = (buffer: Buffer) => {
    batch.push(buffer);
    batched += buffer.length;
  };
  const flush = () => {
    const out = batch.length === 1 ? (batch[0] as Buffer) : Buffer.concat(batch, batched);
    batch = [];
    batched = 0;
    return out;
  };
  for (const entry of planned) {
    add(tarHeader(entry));
    if (entry.type === "file" && entry.size > 0) {
      const path = join(root, entry.name);
      if (entry.content) add(entry.content);
      else if (entry.size <= SMALL_FILE) add(contentOf(entry, () => readSmallFile(path, entry.size)));
      else {
        yield flush();
        try {
          for await (const piece of readLargeFile(path, entry.size, pool)) yield piece;
        } catch (err) {
          throw sendFailure(entry.name, err as Error);
        }
      }
      add(tarPadding(entry.size));
    }
    counted();
    if (batched >= BATCH) yield flush();
  }
  add(tarEnd());
  yield flush();
}

function contentOf(entry: TarEntry, read: () => Buffer): Buffer {
  try {
    return read();
  } catch (err) {
    throw sendFailure(entry.name, err as Error);
  }
}

/** A file that failed while being sent, named. */
export function sendFailure(name: string, err: Error): PreviewError {
  return new PreviewError(
    "build",
    `The build context could not be sent: reading ${name} failed (${err.message}). Make it readable and keep it unchanged during the build, or list it in .dockerignore.`,
    { code: "DOCKER_CONTEXT", cause: err },
  );
}

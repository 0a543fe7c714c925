import { lstatSync } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { isAbsolute, join, posix, relative, resolve, sep } from "node:path";
import { pipeline } from "node:stream";
import { pack } from "tar-fs";
import { PreviewError } from "../errors.js";
import { contextFs, contextReadPool } from "./context-fs.js";
import { ContextUpload } from "./context-upload.js";
import { type ContextFilter, contextFilter, parseDockerignore } from "./dockerignore.js";

/** The build context as a tar stream that is produced while it is read, never held whole in memory. */
export interface ContextStream {
  /** Uncompressed tar, as the docker CLI sends it (it does not gzip by default either). */
  readonly stream: NodeJS.ReadableStream;
  /** Bytes of tar read from `stream` so far: the upload size once the stream has ended. */
  sentBytes(): number;
  /** Entries (files, directories, symlinks) put into the tar so far. */
  sentEntries(): number;
  /** Why reading the context failed (an unreadable file, say); the stream is destroyed with it too. */
  readError(): Error | undefined;
}

/**
 * Streams `contextDir` as a tar honouring its `.dockerignore` like the docker CLI: `!` exceptions,
 * excluded directories skipped without being read unless an exception may reach inside them, and the
 * Dockerfile and `.dockerignore` always sent. Owners are reset to 0:0, as the CLI does.
 * `dockerfile` is relative to `contextDir` and must exist inside it.
 * Memory stays flat whatever the context size: tar-fs reads one file at a time (see contextFs) and the
 * consumer's backpressure (the HTTP upload to the engine) paces the reads.
 */
export async function createContextStream(contextDir: string, dockerfile: string): Promise<ContextStream> {
  const root = resolve(contextDir);
  const dockerfilePath = await checkLayout(root, dockerfile);
  const filter = contextFilter(await readIgnoreFile(root), dockerfilePath);
  const top = (await readdir(root)).sort().filter((name) => !skip(filter, root, join(root, name)));

  let entries = 0;
  const pool = contextReadPool();
  const tar = pack(root, {
    fs: contextFs(pool),
    entries: top,
    ignore: (abs) => skip(filter, root, abs),
    map: (header) => ({ ...header, uid: 0, gid: 0 }),
    sort: true,
  } as Parameters<typeof pack>[1]);
  dropExcludedDirectories(tar, filter, () => entries++);

  let failure: Error | undefined;
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
  };
}

/** Resolves the Dockerfile to a context-relative POSIX path, or says what is wrong with the layout. */
async function checkLayout(root: string, dockerfile: string): Promise<string> {
  const rootStat = await stat(root).catch(() => undefined);
  if (!rootStat?.isDirectory()) {
    throw new PreviewError(
      "build",
      `The build context ${root} is not a directory. Set \`context\` to the folder that holds your app.`,
      {
        code: "DOCKER_CONTEXT",
      },
    );
  }
  const rel = relative(root, resolve(root, dockerfile)).split(sep).join("/");
  if (isAbsolute(rel) || rel === ".." || rel.startsWith("../")) {
    throw new PreviewError(
      "build",
      `The Dockerfile ${dockerfile} is outside the build context ${root}. Put it inside the context.`,
      {
        code: "DOCKER_CONTEXT",
      },
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

async function readIgnoreFile(root: string): Promise<string[]> {
  try {
    return parseDockerignore(await readFile(join(root, ".dockerignore"), "utf8"));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
}

/** tar-fs calls this before reading a path; true keeps the path (and a directory's whole subtree) out. */
function skip(filter: ContextFilter, root: string, abs: string): boolean {
  const rel = relative(root, abs).split(sep).join("/");
  if (!filter.excludes(rel)) return false;
  if (!filter.mustWalk(rel)) return true;
  // Walk into an excluded directory an exception may reach into; an excluded file stays out.
  return !lstatSync(abs).isDirectory();
}

/**
 * tar-fs writes a header for every directory it walks; the CLI does not send the excluded directories
 * it only walks for exceptions. tar-fs has no hook for that, so its pack's `entry` is wrapped: tar-fs
 * looks `entry` up on the instance for every entry, and its first call comes after an fs callback.
 */
function dropExcludedDirectories(tar: ReturnType<typeof pack>, filter: ContextFilter, counted: () => void) {
  type Entry = (header: { name: string; type?: string | null }, ...rest: unknown[]) => unknown;
  const target = tar as unknown as { entry: Entry };
  const write = target.entry.bind(tar);
  target.entry = (header, ...rest) => {
    const name = header.name.replace(/\/$/, "");
    if (header.type === "directory" && filter.excludes(name)) {
      const done = rest[rest.length - 1];
      if (typeof done === "function") process.nextTick(done as () => void);
      return undefined;
    }
    counted();
    return write(header, ...rest);
  };
}

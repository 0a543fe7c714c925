import { type BigIntStats, lstatSync, readdirSync, readlinkSync, realpathSync } from "node:fs";
import { join, posix } from "node:path";
import { protobufFields } from "./buildkit-status.js";
import { byteOrder, sendFailure } from "./context.js";
import { isGitConfig, rewriteGitConfig } from "./context-credentials.js";
import { contextReadPool, readLargeFile, readSmallFile, SMALL_FILE } from "./context-fs.js";
import { ContextFilter, goClean } from "./dockerignore.js";

/**
 * The build context as BuildKit's session pulls it (moby.filesync.v1.FileSync/DiffCopy), sent as the
 * docker CLI's BuildKit client sends it: tonistiigi/fsutil's Walk and Send (the versions docker 20.10
 * vendors), whose Packet/Stat protobuf messages are encoded here by hand (a few fields each).
 *
 * The engine, not the client, decides what is sent: it reads .dockerignore (or <Dockerfile>.dockerignore)
 * through the same session and asks for the context with those exclude patterns, include patterns and
 * follow-paths as request metadata. Walk order, Go's os.FileMode bits, nanosecond mtimes, hardlinks as
 * links to the first path, owners 0:0 for the context (the CLI's resetUIDAndGID): as fsutil sends them.
 * Extended attributes are not sent (Node cannot read them); the CLI sends them. One deliberate difference:
 * git config files go without their `extraheader` credential (context-credentials.ts).
 */

/** Go's os.FileMode type and special bits (fsutil sends modes as Go reports them, not unix st_mode). */
const GO_MODE = {
  dir: 2 ** 31,
  symlink: 2 ** 27,
  device: 2 ** 26,
  namedPipe: 2 ** 25,
  socket: 2 ** 24,
  setuid: 2 ** 23,
  setgid: 2 ** 22,
  charDevice: 2 ** 21,
  sticky: 2 ** 20,
  irregular: 2 ** 19,
};
const GO_MODE_TYPE =
  GO_MODE.dir +
  GO_MODE.symlink +
  GO_MODE.namedPipe +
  GO_MODE.socket +
  GO_MODE.device +
  GO_MODE.charDevice +
  GO_MODE.irregular;

/** One fsutil types.Stat. */
export interface SyncStat {
  readonly path: string;
  /** Go os.FileMode bits. */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: bigint;
  /** Nanoseconds since the epoch (negative before 1970). */
  readonly modTime: bigint;
  readonly linkname: string;
  readonly devmajor: number;
  readonly devminor: number;
  /** What to send instead of the file on disk (a git config without its credential); `size` is its length. */
  readonly content?: Buffer;
}

/** The Go type bits for each unix file type (S_IFMT of st_mode); a regular file has none. */
const GO_TYPE_OF: ReadonlyMap<number, number> = new Map([
  [0o060000, GO_MODE.device],
  [0o020000, GO_MODE.device + GO_MODE.charDevice],
  [0o040000, GO_MODE.dir],
  [0o010000, GO_MODE.namedPipe],
  [0o120000, GO_MODE.symlink],
  [0o140000, GO_MODE.socket],
]);

/** Go's os.FileMode for a unix st_mode (os.fillFileStatFromSys). */
export function goFileMode(stMode: number): number {
  let mode = (stMode & 0o777) + (GO_TYPE_OF.get(stMode & 0o170000) ?? 0);
  if (stMode & 0o4000) mode += GO_MODE.setuid;
  if (stMode & 0o2000) mode += GO_MODE.setgid;
  if (stMode & 0o1000) mode += GO_MODE.sticky;
  return mode;
}

/** fsutil's fileCanRequestData: the receiver asks for the content of entries without type bits. */
export function carriesData(mode: number): boolean {
  // Bitwise on the 32-bit patterns (ToInt32 keeps the bits of both).
  return (mode & GO_MODE_TYPE) === 0;
}

/** What the engine asks for (request metadata of DiffCopy); absent keys are undefined, as in Go. */
export interface SyncRequest {
  readonly excludes?: readonly string[];
  readonly includes?: readonly string[];
  readonly followPaths?: readonly string[];
}

/** fsutil.Walk over `dir` with the engine's patterns: the stats to send, in the order to send them. */
export function syncWalk(dir: string, request: SyncRequest, resetOwner: boolean): SyncStat[] {
  const root = realpathSync(dir);
  const excludes = request.excludes
    ? new ContextFilter(request.excludes.map((text, i) => ({ text, line: i + 1 })))
    : undefined;
  let includes = request.includes?.map(goClean);
  if (request.followPaths) {
    const targets = followLinks(root, request.followPaths);
    if (targets) includes = dedupePaths([...(includes ?? []), ...targets].sort(byteOrder));
  }
  const stats: SyncStat[] = [];
  const firstPaths = new Map<bigint, string>();
  let lastIncludedDir = "";
  const visit = (abs: string, rel: string) => {
    for (const name of readdirSync(abs).sort(byteOrder)) {
      const path = rel ? `${rel}/${name}` : name;
      const full = join(abs, name);
      let st: BigIntStats;
      try {
        st = lstatSync(full, { bigint: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
        throw err;
      }
      const isDir = st.isDirectory();
      if (includes) {
        const inside = lastIncludedDir !== "" && path.startsWith(`${lastIncludedDir}/`);
        if (!inside) {
          const found = includedBy(includes, path);
          if (!found.matched) continue;
          if (!found.partial && isDir) lastIncludedDir = path;
        }
      }
      if (excludes?.legacyMatches(path) && !(isDir && excludes.hasExceptions && excludes.mustWalk(path)))
        continue;
      stats.push(syncStat(full, path, st, firstPaths, resetOwner));
      if (isDir) visit(full, path);
    }
  };
  visit(root, "");
  return stats;
}

/** fsutil's mkstat: Go's mode bits, the first path of a hardlinked inode, the link target of a symlink. */
function syncStat(
  full: string,
  path: string,
  st: BigIntStats,
  firstPaths: Map<bigint, string>,
  resetOwner: boolean,
): SyncStat {
  const isDir = st.isDirectory();
  // Before the hardlink check: a git config sent without its credential is never a link to the original.
  const rewritten = st.isFile() && isGitConfig(path) ? rewriteGitConfig(full, Number(st.size)) : undefined;
  let linkname = "";
  if (!isDir && !rewritten) {
    const first = st.nlink > 1n ? firstPaths.get(st.ino) : undefined;
    if (first !== undefined) linkname = first;
    else firstPaths.set(st.ino, path);
    if (st.isSymbolicLink()) linkname = readlinkSync(full);
  }
  const rdev = Number(st.rdev);
  // archive/tar cannot carry a socket: fsutil clears its type bit (the engine then writes an empty file).
  const mode = goFileMode(Number(st.mode));
  return {
    path,
    mode: st.isSocket() ? mode - GO_MODE.socket : mode,
    uid: resetOwner ? 0 : Number(st.uid),
    gid: resetOwner ? 0 : Number(st.gid),
    size: isDir ? 0n : rewritten ? BigInt(rewritten.content.length) : st.size,
    modTime: st.mtimeNs,
    linkname,
    devmajor: isDir ? 0 : (rdev >>> 8) & 0xfff,
    devminor: isDir ? 0 : (rdev & 0xff) | ((rdev >>> 12) & 0xfff00),
    ...rewritten,
  };
}

/** fsutil's include check: some pattern matches the path, or a directory on the way to it (partial). */
function includedBy(includes: readonly string[], path: string): { matched: boolean; partial: boolean } {
  let matched = false;
  let partial = true;
  const depth = path.split("/").length - 1;
  for (const pattern of includes) {
    const parts = pattern.split("/");
    const cut = parts.length - 1 > depth;
    if (goMatch(cut ? parts.slice(0, depth + 1).join("/") : pattern, path)) {
      matched = true;
      if (!cut) {
        partial = false;
        break;
      }
    }
  }
  return { matched, partial };
}

/** fsutil.FollowLinks: follow-paths with the symlinks on their way resolved, as include patterns. */
function followLinks(root: string, paths: readonly string[]): string[] | undefined {
  const resolved = new Set<string>();
  const append = (p: string) => {
    let rest = goClean(p);
    let current = ".";
    for (;;) {
      const slash = rest.indexOf("/");
      current = goClean(posix.join(current, slash < 0 ? rest : rest.slice(0, slash)));
      rest = slash < 0 ? "" : rest.slice(slash + 1);
      const target = symlinkTarget(root, current);
      if ((rest === "" || target !== undefined) && resolved.has(current)) return;
      if (target !== undefined) {
        resolved.add(current);
        append(posix.join(target, rest));
        return;
      }
      if (rest === "") {
        resolved.add(current);
        return;
      }
    }
  };
  for (const p of paths) append(p);
  return dedupePaths([...resolved].sort(byteOrder));
}

function symlinkTarget(root: string, rel: string): string | undefined {
  let link: string;
  try {
    if (!lstatSync(join(root, rel)).isSymbolicLink()) return undefined;
    link = posix.normalize(readlinkSync(join(root, rel)));
  } catch {
    return undefined;
  }
  return posix.isAbsolute(link) ? link : posix.join("/", posix.dirname(rel), link);
}

/** fsutil's dedupePaths over sorted paths: a path inside another is dropped; "." means no filter. */
function dedupePaths(paths: readonly string[]): string[] | undefined {
  const out: string[] = [];
  let last: string | undefined;
  for (const p of paths) {
    if (p === ".") return undefined;
    if (last !== undefined && p.startsWith(`${last}/`)) continue;
    out.push(p);
    last = p;
  }
  return out;
}

/** Go's filepath.Match (a malformed pattern matches nothing, as fsutil ignores the error). */
export function goMatch(pattern: string, name: string): boolean {
  let re = "^";
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i] as string;
    if (ch === "*") re += "[^/]*";
    else if (ch === "?") re += "[^/]";
    else if (ch === "\\") re += escapeRe(pattern[++i] ?? "\\");
    else if (ch === "[") {
      const end = pattern.indexOf("]", i + 2);
      if (end < 0) return false;
      let body = pattern.slice(i + 1, end);
      const negated = body.startsWith("^");
      if (negated) body = body.slice(1);
      re += `[${negated ? "^/" : ""}${body.replace(/\\(.)/g, "$1").replace(/[\]\\^]/g, "\\$&")}]`;
      i = end;
    } else re += escapeRe(ch);
  }
  try {
    return new RegExp(`${re}$`, "su").test(name);
  } catch {
    return false;
  }
}

function escapeRe(ch: string): string {
  return ch.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

// ---- fsutil's Packet and Stat (types/wire.proto, types/stat.proto), proto3 as gogo writes them ----

export const PACKET = { stat: 0, req: 1, data: 2, fin: 3, err: 4 } as const;

export interface Packet {
  readonly type: number;
  readonly id: number;
  readonly data: Buffer;
}

function varint(value: bigint | number): Buffer {
  let v = BigInt.asUintN(64, BigInt(value));
  const bytes: number[] = [];
  while (v >= 0x80n) {
    bytes.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  bytes.push(Number(v));
  return Buffer.from(bytes);
}

function varintField(field: number, value: bigint | number): Buffer[] {
  return value === 0 || value === 0n ? [] : [varint(field * 8), varint(value)];
}

/** A length-delimited field (string, bytes, message); empty ones are left out, as proto3 does. */
export function protoBytes(field: number, value: Buffer | string): Buffer[] {
  const bytes = typeof value === "string" ? Buffer.from(value) : value;
  return bytes.length === 0 ? [] : [varint(field * 8 + 2), varint(bytes.length), bytes];
}

export function encodeStat(s: SyncStat): Buffer {
  return Buffer.concat([
    ...protoBytes(1, s.path),
    ...varintField(2, s.mode),
    ...varintField(3, s.uid),
    ...varintField(4, s.gid),
    ...varintField(5, s.size),
    ...varintField(6, s.modTime),
    ...protoBytes(7, s.linkname),
    ...varintField(8, s.devmajor),
    ...varintField(9, s.devminor),
  ]);
}

/** A STAT packet; without a stat it is the empty one that ends the list. */
export function statPacket(stat?: SyncStat): Buffer {
  return stat ? Buffer.concat(protoBytes(2, encodeStat(stat))) : Buffer.alloc(0);
}

/** The head of a DATA packet whose `length` bytes of data follow (written apart, not copied). */
export function dataPacketHead(id: number, length: number): Buffer {
  return Buffer.concat([
    ...varintField(1, PACKET.data),
    ...varintField(3, id),
    ...(length > 0 ? [varint(4 * 8 + 2), varint(length)] : []),
  ]);
}

export function packet(type: number, data?: string): Buffer {
  return Buffer.concat([...varintField(1, type), ...protoBytes(4, data ?? "")]);
}

export function decodePacket(buf: Buffer): Packet {
  let type = 0;
  let id = 0;
  let data: Buffer = Buffer.alloc(0);
  for (const [field, value] of protobufFields(buf)) {
    if (field === 1 && typeof value === "number") type = value;
    else if (field === 3 && typeof value === "number") id = value;
    else if (field === 4 && Buffer.isBuffer(value)) data = value;
  }
  return { type, id, data };
}

// ---- fsutil's sender ----

/** A gRPC bidi stream of messages, as the session hands it to a method. */
export interface MessageStream {
  /** Resolves once the message is written (backpressure); rejects once the stream is gone. */
  send(...parts: Buffer[]): Promise<void>;
  /** Whether the engine ended the call (a failed send is then no fault of the file). */
  closed(): boolean;
  readonly received: AsyncIterable<Buffer>;
}

/** Sends `stats` of `dir`, then what the receiver asks for, until it says FIN (fsutil's sender.run). */
export async function sendStats(
  stream: MessageStream,
  dir: string,
  stats: readonly SyncStat[],
  counted: (bytes: number) => void,
): Promise<void> {
  const files = new Map<number, SyncStat>();
  const wanted: number[] = [];
  let wake: (() => void) | undefined;
  let finished = false;
  const walk = async () => {
    for (const [id, stat] of stats.entries()) {
      if (carriesData(stat.mode)) files.set(id, stat);
      await stream.send(statPacket(stat));
    }
    await stream.send(statPacket());
  };
  const serve = async () => {
    const pool = contextReadPool();
    for (;;) {
      const id = wanted.shift();
      if (id === undefined) {
        if (finished) return;
        await new Promise<void>((resolve) => (wake = resolve));
        continue;
      }
      const stat = files.get(id);
      if (!stat) throw new Error(`the engine asked for file ${id}, which was not offered`);
      files.delete(id);
      await sendFile(stream, join(dir, stat.path), id, stat, pool, counted).catch((err: Error) => {
        throw stream.closed() ? err : sendFailure(stat.path, err);
      });
    }
  };
  const receive = async () => {
    try {
      for await (const message of stream.received) {
        const p = decodePacket(message);
        if (p.type === PACKET.err) throw new Error(`the engine: ${p.data.toString()}`);
        if (p.type === PACKET.req) wanted.push(p.id);
        if (p.type === PACKET.fin) return await stream.send(packet(PACKET.fin));
        wake?.();
      }
      throw new Error("the engine closed the transfer before it was complete");
    } finally {
      finished = true;
      wake?.();
    }
  };
  await Promise.all([walk(), serve(), receive()]);
}

/** One file's content in DATA packets, then the empty DATA that closes it. */
async function sendFile(
  stream: MessageStream,
  path: string,
  id: number,
  stat: SyncStat,
  pool: ReturnType<typeof contextReadPool>,
  counted: (bytes: number) => void,
): Promise<void> {
  const size = Number(stat.size);
  // Nothing to read when empty; a socket (its type bit cleared, see syncStat) is always empty.
  if (stat.content) {
    if (size > 0) await stream.send(dataPacketHead(id, size), stat.content);
    counted(size);
  } else if (size > 0) {
    if (size <= SMALL_FILE) {
      const content = readSmallFile(path, size);
      await stream.send(dataPacketHead(id, size), content);
      counted(size);
    } else {
      for await (const piece of readLargeFile(path, size, pool)) {
        await stream.send(dataPacketHead(id, piece.length), piece);
        pool.release(piece);
        counted(piece.length);
      }
    }
  }
  await stream.send(dataPacketHead(id, 0));
}

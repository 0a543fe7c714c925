import { createHash } from "node:crypto";
import type { IncomingMessage, Server } from "node:http";
import { type ClientHttp2Session, connect } from "node:http2";
import type { Duplex } from "node:stream";

/**
 * The engine's side of a BuildKit session, for a stand-in engine: takes `POST /session` (upgraded to
 * h2c, the client then serving gRPC on it), and pulls a directory through moby.filesync.v1.FileSync/DiffCopy
 * as BuildKit's receiver does (fsutil's protocol: STAT packets until an empty one, REQ for the files it
 * wants, DATA until an empty DATA per file, FIN both ways). Written from the protocol, independent of the
 * sender under test: its own protobuf reader, and it fails on anything out of order.
 */

/** One entry as the sender described it (fsutil's types.Stat), content as a hash. */
export interface SyncedEntry {
  readonly path: string;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: bigint;
  readonly modTime: bigint;
  readonly linkname: string;
  readonly devmajor: bigint;
  readonly devminor: bigint;
  readonly xattrs: number;
  /** sha256 of the DATA received for a regular file (none asked for the others). */
  readonly sha256?: string;
}

export interface CapturedSession {
  readonly headers: IncomingMessage["headers"];
  readonly client: ClientHttp2Session;
}

/** Accepts sessions on `server`; `sessions` resolves a session by id once it is there. */
export class SessionCapture {
  private readonly sessions = new Map<string, CapturedSession>();
  private readonly waiting = new Map<string, (s: CapturedSession) => void>();

  constructor(server: Server) {
    server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const id = String(req.headers["x-docker-expose-session-uuid"] ?? "");
      if (!req.url?.endsWith("/session") || req.headers.upgrade !== "h2c" || !id) {
        socket.end("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        return;
      }
      socket.write("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n");
      if (head.length > 0) socket.unshift(head);
      const client = connect("http://session", { createConnection: () => socket });
      client.on("error", () => undefined);
      const session = { headers: req.headers, client };
      this.sessions.set(id, session);
      this.waiting.get(id)?.(session);
    });
  }

  /** The session `id`, once its client has dialled it (the CLI dials it alongside the build request). */
  session(id: string): Promise<CapturedSession> {
    const known = this.sessions.get(id);
    if (known) return Promise.resolve(known);
    return new Promise((resolve) => this.waiting.set(id, resolve));
  }

  close(): void {
    for (const s of this.sessions.values()) s.client.destroy();
  }
}

/** Pulls `dir` ("context" or "dockerfile") through DiffCopy with `meta` as BuildKit's request metadata. */
export function pullDir(
  client: ClientHttp2Session,
  dir: string,
  meta: Record<string, string[]> = {},
): Promise<SyncedEntry[]> {
  const call = client.request({
    ":method": "POST",
    ":path": "/moby.filesync.v1.FileSync/DiffCopy",
    "content-type": "application/grpc",
    te: "trailers",
    "dir-name": dir,
    ...meta,
  });
  const entries: Omit<SyncedEntry, "sha256">[] = [];
  const hashes = new Map<number, ReturnType<typeof createHash>>();
  const done = new Map<number, string>();
  let listed = false;
  let pending = Buffer.alloc(0);
  const send = (packet: Buffer) => {
    const prefix = Buffer.alloc(5);
    prefix.writeUInt32BE(packet.length, 1);
    call.write(Buffer.concat([prefix, packet]));
  };
  return new Promise((resolve, reject) => {
    const fail = (err: Error) => {
      call.close();
      reject(err);
    };
    const onPacket = (fields: Map<number, (bigint | Buffer)[]>) => {
      const type = Number(fields.get(1)?.[0] ?? 0n);
      const id = Number(fields.get(3)?.[0] ?? 0n);
      if (type === 0) {
        const stat = fields.get(2)?.[0];
        if (stat instanceof Buffer) entries.push(readStat(stat));
        else {
          listed = true;
          // Ask for every regular file that is no hardlink, by its index in the list.
          for (const [i, e] of entries.entries()) {
            if ((e.mode & 0xfff80000) === 0 && e.linkname === "") {
              hashes.set(i, createHash("sha256"));
              send(Buffer.from([0x08, 0x01, 0x18, ...varint(i)]));
            }
          }
          if (hashes.size === 0) send(Buffer.from([0x08, 0x03]));
        }
      } else if (type === 2) {
        const hash = hashes.get(id);
        if (!listed || !hash || done.has(id))
          return fail(new Error(`DATA for ${id}, which was not asked for`));
        const data = fields.get(4)?.[0];
        if (data instanceof Buffer && data.length > 0) hash.update(data);
        else {
          done.set(id, hash.digest("hex"));
          if (done.size === hashes.size) send(Buffer.from([0x08, 0x03]));
        }
      } else if (type === 3) {
        call.end();
      } else fail(new Error(`packet type ${type} from the sender: ${fields.get(4)?.[0]?.toString()}`));
    };
    call.on("data", (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 5 && pending.length >= 5 + pending.readUInt32BE(1)) {
        const length = pending.readUInt32BE(1);
        onPacket(readFields(pending.subarray(5, 5 + length)));
        pending = pending.subarray(5 + length);
      }
    });
    call.on("trailers", (trailers) => {
      if (trailers["grpc-status"] !== "0") fail(new Error(`DiffCopy ended with ${JSON.stringify(trailers)}`));
    });
    call.on("error", fail);
    call.on("close", () => resolve(entries.map((e, i) => (done.has(i) ? { ...e, sha256: done.get(i) } : e))));
  });
}

function readStat(buf: Buffer): Omit<SyncedEntry, "sha256"> {
  const f = readFields(buf);
  const num = (n: number) => (f.get(n)?.[0] as bigint | undefined) ?? 0n;
  const str = (n: number) => (f.get(n)?.[0] as Buffer | undefined)?.toString() ?? "";
  return {
    path: str(1),
    mode: Number(num(2)),
    uid: Number(num(3)),
    gid: Number(num(4)),
    size: BigInt.asIntN(64, num(5)),
    modTime: BigInt.asIntN(64, num(6)),
    linkname: str(7),
    devmajor: BigInt.asIntN(64, num(8)),
    devminor: BigInt.asIntN(64, num(9)),
    xattrs: f.get(10)?.length ?? 0,
  };
}

/** Protobuf fields: varints as bigint, length-delimited as Buffer; anything else is malformed here. */
function readFields(buf: Buffer): Map<number, (bigint | Buffer)[]> {
  const out = new Map<number, (bigint | Buffer)[]>();
  let pos = 0;
  const read = (): bigint => {
    let value = 0n;
    for (let shift = 0n; ; shift += 7n) {
      const byte = buf[pos++];
      if (byte === undefined) throw new Error("truncated protobuf");
      value |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return value;
    }
  };
  while (pos < buf.length) {
    const key = Number(read());
    const field = key >> 3;
    let value: bigint | Buffer;
    if ((key & 7) === 0) value = read();
    else if ((key & 7) === 2) {
      const length = Number(read());
      value = buf.subarray(pos, pos + length);
      pos += length;
    } else throw new Error(`protobuf wire type ${key & 7} in an fsutil message`);
    out.set(field, [...(out.get(field) ?? []), value]);
  }
  return out;
}

function varint(n: number): number[] {
  const bytes: number[] = [];
  let v = n;
  while (v >= 0x80) {
    bytes.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  bytes.push(v);
  return bytes;
}

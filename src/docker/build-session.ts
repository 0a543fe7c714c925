import { createHash, randomBytes } from "node:crypto";
import {
  createServer,
  type Http2Session,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
} from "node:http2";
import { hostname } from "node:os";
import { basename, dirname, join } from "node:path";
import type { Duplex } from "node:stream";
import type Docker from "dockerode";
import { protobufFields } from "./buildkit-status.js";
import { type MessageStream, protoBytes, type SyncRequest, sendStats, syncWalk } from "./context-sync.js";

/**
 * A BuildKit session, opened the way the docker CLI opens it: `POST /session` upgraded to h2c, on which
 * the engine is the gRPC client and we serve what the headers announce:
 * - grpc.health.v1.Health/Check, which the engine calls every second (one failure drops the session:
 *   dockerode's /session serves none, apocas/dockerode#845);
 * - moby.filesync.v1.FileSync/DiffCopy for the dirs "context" and "dockerfile" (see context-sync.ts);
 * - moby.filesync.v1.Auth/Credentials, the registry credentials of the build, for the host they are for;
 * - moby.buildkit.secrets.v1.Secrets/GetSecret, the build's secrets by id (`RUN --mount=type=secret`).
 * gRPC is spoken over node:http2 by hand (length-prefixed messages, status in trailers): the metadata
 * carries one header per pattern, which only the raw headers keep apart (gRPC libraries join them).
 */
export interface BuildSession {
  readonly id: string;
  /** Context bytes sent so far. */
  sentBytes(): number;
  /** Why sending the context failed; the transfer ends with it and `onFailure` is told. */
  readError(): Error | undefined;
  /** Ends the session: the engine's calls are cut and the connection closed. */
  close(): void;
}

export interface SessionDirs {
  /** Absolute context directory. */
  readonly context: string;
  /** The Dockerfile, relative to the context. */
  readonly dockerfile: string;
  readonly credentials?: { readonly server: string; readonly username: string; readonly secret: string };
  /** Build secrets by id, served to the engine only when a RUN mounts them. */
  readonly secrets?: Readonly<Record<string, string>>;
  /** Called once when a file cannot be sent: the build must end now. */
  readonly onFailure: (err: Error) => void;
}

const HEALTH = "/grpc.health.v1.Health/Check";
const DIFF_COPY = "/moby.filesync.v1.FileSync/DiffCopy";
const CREDENTIALS = "/moby.filesync.v1.Auth/Credentials";
const GET_SECRET = "/moby.buildkit.secrets.v1.Secrets/GetSecret";
const STATUS = { ok: 0, unknown: 2, notFound: 5, unimplemented: 12 } as const;

/** Opens a session on the engine and serves it until `close`. */
export async function openBuildSession(docker: Docker, dirs: SessionDirs): Promise<BuildSession> {
  const id = randomBytes(13).toString("base64url").toLowerCase();
  const socket = await dialSession(docker, id, dirs);
  const transfer: Transfer = { sent: 0, failure: undefined };
  const streams = new Set<ServerHttp2Stream>();
  const server = createServer();
  let session: Http2Session | undefined;
  server.on("session", (s) => {
    session = s;
    s.on("error", () => undefined);
  });
  server.on(
    "stream",
    (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, _flags: number, rawHeaders: string[]) => {
      streams.add(stream);
      stream.on("close", () => streams.delete(stream));
      stream.on("error", () => undefined);
      serveCall(new GrpcCall(stream), String(headers[":path"]), metadata(rawHeaders), dirs, transfer);
    },
  );
  socket.on("error", () => undefined);
  server.emit("connection", socket);
  return {
    id,
    sentBytes: () => transfer.sent,
    readError: () => transfer.failure,
    close: () => {
      for (const stream of streams) stream.close();
      session?.destroy();
      socket.destroy();
    },
  };
}

/** `POST /session` upgraded to h2c, announcing the methods we serve; resolves with the upgraded socket. */
function dialSession(docker: Docker, id: string, dirs: SessionDirs): Promise<Duplex> {
  const methods = [
    HEALTH,
    DIFF_COPY,
    ...(dirs.credentials ? [CREDENTIALS] : []),
    ...(hasSecrets(dirs) ? [GET_SECRET] : []),
  ];
  return new Promise<Duplex>((resolve, reject) => {
    docker.modem.dial(
      {
        path: "/session",
        method: "POST",
        hijack: true,
        // An empty body with its length: a chunked one would end after the upgrade, in the engine's h2c.
        file: Buffer.alloc(0),
        headers: {
          Upgrade: "h2c",
          "X-Docker-Expose-Session-Uuid": id,
          "X-Docker-Expose-Session-Name": basename(dirs.context),
          "X-Docker-Expose-Session-Sharedkey": sharedKey(dirs.context),
          "X-Docker-Expose-Session-Grpc-Method": methods,
        },
        statusCodes: { 101: true, 400: "bad parameter", 500: "server error" },
      },
      (err, socket) => (err ? reject(err) : resolve(socket as Duplex)),
    );
  });
}

interface Transfer {
  sent: number;
  failure: Error | undefined;
}

/** One call of the engine's: health, credentials, or a directory to send. */
function serveCall(
  call: GrpcCall,
  method: string,
  meta: Map<string, string[]>,
  dirs: SessionDirs,
  transfer: Transfer,
): void {
  if (method === HEALTH) {
    void call.unary(() => Buffer.from([0x08, 0x01]));
    return;
  }
  const credentials = dirs.credentials;
  if (method === CREDENTIALS && credentials) {
    void call.unary((request) => credentialsAnswer(request, credentials));
    return;
  }
  if (method === GET_SECRET && hasSecrets(dirs)) {
    void call.unaryOr((request) => secretAnswer(request, dirs.secrets ?? {}));
    return;
  }
  if (method !== DIFF_COPY) {
    call.end(STATUS.unimplemented, `unknown method ${method}`);
    return;
  }
  const dir = meta.get("dir-name")?.[0] ?? "";
  if (dir !== "context" && dir !== "dockerfile") {
    call.end(STATUS.notFound, `no access allowed to dir "${dir}"`);
    return;
  }
  const root = dir === "context" ? dirs.context : dirname(join(dirs.context, dirs.dockerfile));
  const request: SyncRequest = {
    excludes: meta.get("exclude-patterns"),
    includes: meta.get("include-patterns"),
    followPaths: meta.get("followpaths"),
  };
  call
    .run(async (messages) => {
      // The context goes with owners 0:0, as the CLI's resetUIDAndGID sends it; the Dockerfile's dir as is.
      const stats = syncWalk(root, request, dir === "context");
      await sendStats(messages, root, stats, (n) => {
        transfer.sent += n;
      });
    })
    .catch((err: Error) => {
      if (transfer.failure) return;
      transfer.failure = err;
      dirs.onFailure(err);
    });
}

/** The CLI's shared key names the context dir on this machine: the engine reuses what it synced before. */
function sharedKey(context: string): string {
  return createHash("sha256").update(`ml-preview:${hostname()}:${context}`).digest("hex");
}

/** gRPC request metadata from the raw headers: every value of a repeated key, in order. */
function metadata(raw: readonly string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const key = (raw[i] as string).toLowerCase();
    if (key.startsWith(":")) continue;
    out.set(key, [...(out.get(key) ?? []), raw[i + 1] as string]);
  }
  return out;
}

/**
 * Auth/Credentials: the build's credentials for the host they are for, none for any other (as the CLI's
 * authprovider answers from its config, where Docker Hub's key is its historical index URL).
 */
function credentialsAnswer(request: Buffer, c: { server: string; username: string; secret: string }): Buffer {
  let host = "";
  for (const [field, value] of protobufFields(request)) if (field === 1) host = String(value);
  const key = host === "registry-1.docker.io" ? "https://index.docker.io/v1/" : host;
  if (key !== c.server) return Buffer.alloc(0);
  return Buffer.concat([...protoBytes(1, c.username), ...protoBytes(2, c.secret)]);
}

function hasSecrets(dirs: SessionDirs): boolean {
  return Object.keys(dirs.secrets ?? {}).length > 0;
}

/**
 * Secrets/GetSecret (GetSecretRequest: 1 ID; GetSecretResponse: 1 data): the value of a secret we have,
 * NotFound for any other id, as the CLI's secrets provider answers. BuildKit then leaves an optional mount
 * out (`cat /run/secrets/<id>` fails in the step) and fails a `required=true` one with "secret <id> not found".
 */
function secretAnswer(request: Buffer, secrets: Readonly<Record<string, string>>): Buffer | GrpcStatus {
  let id = "";
  for (const [field, value] of protobufFields(request)) if (field === 1) id = String(value);
  const value = Object.hasOwn(secrets, id) ? secrets[id] : undefined;
  if (value === undefined) return { code: STATUS.notFound, message: `secret ${id} not found` };
  return Buffer.concat(protoBytes(1, Buffer.from(value)));
}

interface GrpcStatus {
  readonly code: number;
  readonly message: string;
}

/** One gRPC call on an HTTP/2 stream: length-prefixed messages both ways, the status in trailers. */
class GrpcCall {
  private responded = false;

  constructor(private readonly stream: ServerHttp2Stream) {}

  private respond(): void {
    if (this.responded) return;
    this.responded = true;
    this.stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
  }

  /** Ends the call with a status (trailers-only when nothing was sent yet). */
  end(code: number, message = ""): void {
    if (this.stream.destroyed || this.stream.closed) return;
    const status = {
      "grpc-status": String(code),
      ...(message ? { "grpc-message": encodeURI(message) } : {}),
    };
    if (!this.responded) {
      this.responded = true;
      this.stream.respond(
        { ":status": 200, "content-type": "application/grpc", ...status },
        { endStream: true },
      );
      return;
    }
    this.stream.once("wantTrailers", () => this.stream.sendTrailers(status));
    this.stream.end();
  }

  /** A unary call: one request message, one answer. */
  async unary(answer: (request: Buffer) => Buffer): Promise<void> {
    await this.unaryOr(answer);
  }

  /** A unary call whose answer may be an error status instead of a message. */
  async unaryOr(answer: (request: Buffer) => Buffer | GrpcStatus): Promise<void> {
    for await (const request of this.messages()) {
      const reply = answer(request);
      if (!Buffer.isBuffer(reply)) {
        this.end(reply.code, reply.message);
        return;
      }
      this.respond();
      await this.write([reply]);
      this.end(STATUS.ok);
      return;
    }
  }

  /**
   * A streaming call served by `serve`. A failure of ours ends the call with its message and is rethrown;
   * a call the engine ended (a cancelled build, a transfer it no longer needs) just ends.
   */
  async run(serve: (stream: MessageStream) => Promise<void>): Promise<void> {
    this.respond();
    const closed = () => this.stream.destroyed || this.stream.closed;
    try {
      await serve({ send: (...parts) => this.write(parts), received: this.messages(), closed });
      this.end(STATUS.ok);
    } catch (err) {
      if (closed()) return;
      this.end(STATUS.unknown, (err as Error).message);
      throw err;
    }
  }

  /** Writes one message (its parts back to back); resolves once the socket took it. */
  private write(parts: Buffer[]): Promise<void> {
    const length = parts.reduce((n, p) => n + p.length, 0);
    const prefix = Buffer.alloc(5);
    prefix.writeUInt32BE(length, 1);
    return new Promise((resolve, reject) => {
      if (this.stream.destroyed || this.stream.closed) {
        reject(new Error("the engine ended the transfer"));
        return;
      }
      this.stream.write(prefix);
      for (const [i, part] of parts.entries()) {
        if (i < parts.length - 1) this.stream.write(part);
        else this.stream.write(part, (err) => (err ? reject(err) : resolve()));
      }
      if (parts.length === 0) resolve();
    });
  }

  /**
   * The request messages, as they arrive. Read through events, not the stream's async iterator: leaving
   * that loop early destroys the stream, an RST_STREAM CANCEL the engine reads as a failed transfer.
   */
  private async *messages(): AsyncGenerator<Buffer> {
    const queue: Buffer[] = [];
    let ended = false;
    let failed: Error | undefined;
    let wake: (() => void) | undefined;
    const onData = (chunk: Buffer) => {
      queue.push(chunk);
      wake?.();
    };
    const onEnd = () => {
      ended = true;
      wake?.();
    };
    const onError = (err: Error) => {
      failed = err;
      wake?.();
    };
    this.stream.on("data", onData).once("end", onEnd).once("close", onEnd).once("error", onError);
    let pending: Buffer = Buffer.alloc(0);
    try {
      for (;;) {
        const chunk = queue.shift();
        if (!chunk) {
          if (failed) throw failed;
          if (ended) return;
          await new Promise<void>((resolve) => (wake = resolve));
          continue;
        }
        pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
        while (pending.length >= 5) {
          if (pending[0] !== 0) throw new Error("the engine sent a compressed gRPC message");
          const length = pending.readUInt32BE(1);
          if (pending.length < 5 + length) break;
          yield pending.subarray(5, 5 + length);
          pending = pending.subarray(5 + length);
        }
      }
    } finally {
      this.stream.off("data", onData).off("end", onEnd).off("close", onEnd).off("error", onError);
    }
  }
}

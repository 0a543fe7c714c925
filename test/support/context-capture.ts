import { execFile, execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pullDir, SessionCapture, type SyncedEntry } from "./session-capture.js";

/**
 * A stand-in engine on a unix socket that records the build requests sent to it (the docker CLI's and
 * ours), so the two can be compared byte for byte, entry for entry. It answers /_ping like an API 1.41
 * engine and refuses every build after reading its whole body, so neither client goes further.
 */
export class BuildRecorder {
  readonly socket: string;
  readonly builds: {
    url: string;
    body: Buffer;
    /** A BuildKit build's context, pulled through its session. */
    synced?: SyncedEntry[];
    syncError?: Error;
    sessionHeaders?: IncomingHttpHeaders;
  }[] = [];
  /** The request metadata a BuildKit build's context is pulled with (BuildKit sends the ignore patterns). */
  syncMeta: Record<string, string[]> = {};
  private sessionsCapture = undefined as unknown as SessionCapture;
  /** Build requests begun, whole or not. */
  started = 0;
  /** Build requests that ended without their whole body (the client aborted them). */
  readonly broken: { url: string; bytes: number }[] = [];
  /** Called once with the first bytes of each build body (a test can change the context then). */
  onBodyStart?: () => void;
  private readonly dir: string;
  private server?: Server;

  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), "ml-preview-recorder-"));
    chmodSync(this.dir, 0o755);
    this.socket = join(this.dir, "engine.sock");
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      if (req.method === "POST" && (req.url ?? "").replace(/^\/v[\d.]+/, "").startsWith("/build"))
        this.started++;
      req.on("data", (chunk: Buffer) => {
        if (bytes === 0) this.onBodyStart?.();
        bytes += chunk.length;
        chunks.push(chunk);
      });
      req.on("close", () => {
        if (!req.complete) this.broken.push({ url: req.url ?? "", bytes });
      });
      req.on("end", () => {
        const headers = { "Api-Version": "1.41", "Content-Type": "application/json", Ostype: "linux" };
        const path = (req.url ?? "").replace(/^\/v[\d.]+/, "");
        if (path.startsWith("/_ping")) {
          res.writeHead(200, { ...headers, "Content-Type": "text/plain" }).end("OK");
          return;
        }
        if (req.method === "POST" && path.startsWith("/build")) {
          const refuse = () =>
            res
              .writeHead(200, headers)
              .end(`${JSON.stringify({ errorDetail: { message: "recorded" }, error: "recorded" })}\n`);
          const url = req.url ?? "";
          const query = new URL(url, "http://engine").searchParams;
          if (query.get("remote") !== "client-session") {
            this.builds.push({ url, body: Buffer.concat(chunks) });
            refuse();
            return;
          }
          // A BuildKit build: the context is pulled through its session, as BuildKit pulls it.
          void this.sessionsCapture
            .session(query.get("session") ?? "")
            .then(async (session) => {
              const synced = await pullDir(session.client, "context", this.syncMeta);
              this.builds.push({ url, body: Buffer.alloc(0), synced, sessionHeaders: session.headers });
            })
            .catch((err: Error) => this.builds.push({ url, body: Buffer.alloc(0), syncError: err }))
            .finally(refuse);
          return;
        }
        res.writeHead(404, headers).end(JSON.stringify({ message: `not a build: ${req.method} ${req.url}` }));
      });
    });
    this.sessionsCapture = new SessionCapture(server);
    await new Promise<void>((resolve) => server.listen(this.socket, resolve));
    chmodSync(this.socket, 0o666);
    this.server = server;
  }

  async stop(): Promise<void> {
    this.sessionsCapture?.close();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Runs `docker build` (classic builder) against this engine; resolves with its exit and output. */
  cliBuild(context: string, args: string[] = [], asUser?: number): Promise<CliRun> {
    const env = {
      ...process.env,
      DOCKER_HOST: `unix://${this.socket}`,
      DOCKER_BUILDKIT: "0",
      DOCKER_CONFIG: this.dir,
    };
    return runDocker(["build", ...args, context], env, asUser);
  }

  /** Runs `DOCKER_BUILDKIT=1 docker build` (its session, its file sync) against this engine. */
  cliBuildKit(context: string, args: string[] = []): Promise<CliRun> {
    const env = {
      ...process.env,
      DOCKER_HOST: `unix://${this.socket}`,
      DOCKER_BUILDKIT: "1",
      DOCKER_CONFIG: this.dir,
    };
    return runDocker(["build", ...args, context], env, undefined, undefined, buildKitCli());
  }

  /** The last BuildKit build's context as its session sent it. */
  lastSynced(): SyncedEntry[] {
    const build = this.builds[this.builds.length - 1];
    if (build?.syncError) throw build.syncError;
    if (!build?.synced) throw new Error("no BuildKit build was recorded");
    return build.synced;
  }

  /** The last recorded build, its query and its tar entries. */
  last(): RecordedBuild {
    const build = this.builds[this.builds.length - 1];
    if (!build) throw new Error("no build request was recorded");
    const query = new URL(build.url, "http://engine").searchParams;
    return { query, entries: tarEntries(build.body), body: build.body };
  }
}

export interface CliRun {
  readonly code: number;
  readonly output: string;
}

export interface RecordedBuild {
  readonly query: URLSearchParams;
  readonly entries: TarEntryRead[];
  readonly body: Buffer;
}

/**
 * A docker CLI that builds with BuildKit itself, speaking BuildKit's session as `docker build` does: the
 * first on PATH that has buildx, or that predates docker 23 (whose `docker build` still had its own
 * BuildKit client: Debian's docker.io 20.10, which .ci/run installs). Newer CLIs without buildx refuse
 * DOCKER_BUILDKIT=1.
 */
export function buildKitCli(): string {
  const found = execFileSync("sh", ["-c", "which -a docker"], { encoding: "utf8" })
    .split("\n")
    .filter(Boolean);
  for (const cli of found) {
    const version = execFileSync(cli, ["version", "--format", "{{.Client.Version}}"], { encoding: "utf8" });
    if (Number(version.split(".")[0]) < 23) return cli;
    try {
      execFileSync(cli, ["buildx", "version"], { stdio: "ignore" });
      return cli;
    } catch {
      // no buildx: the next docker on PATH
    }
  }
  throw new Error(
    `None of the docker CLIs on PATH (${found.join(", ")}) builds with BuildKit: install docker-buildx, or Debian's docker.io (bash .ci/run does).`,
  );
}

/** The docker CLI (`cli`, the one on PATH by default), optionally as another user (setpriv), with `env`, and `stdin` to read. */
export function runDocker(
  args: string[],
  env: NodeJS.ProcessEnv,
  asUser?: number,
  stdin?: Buffer,
  cli = "docker",
): Promise<CliRun> {
  const [cmd, argv] =
    asUser === undefined
      ? [cli, args]
      : ["setpriv", [`--reuid=${asUser}`, `--regid=${asUser}`, "--clear-groups", cli, ...args]];
  return new Promise((resolve) => {
    const child = execFile(
      cmd as string,
      argv as string[],
      { env, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        const code = err ? ((err as { code?: number }).code ?? 1) : 0;
        resolve({ code: typeof code === "number" ? code : 1, output: `${stdout}${stderr}` });
      },
    );
    child.stdin?.end(stdin);
  });
}

/** The file-type bits moby's archive added to tar modes before moby 25 (Go 1.8's c_IS* constants). */
export function legacyTypeBits(type: string): number {
  const bits: Record<string, number> = {
    "0": 0o100000,
    "1": 0o100000,
    "2": 0o120000,
    "3": 0o20000,
    "4": 0o60000,
    "5": 0o40000,
    "6": 0o10000,
  };
  return bits[type] ?? -1;
}

/** A tar with every header's mode cut to its permission bits (checksums redone): a pre-25 CLI's tar in today's modes. */
export function withoutLegacyTypeBits(tar: Buffer): Buffer {
  const out = Buffer.from(tar);
  let offset = 0;
  while (offset + 512 <= out.length) {
    const block = out.subarray(offset, offset + 512);
    if (block.every((b) => b === 0)) break;
    const mode = number(block.subarray(100, 108)) & 0o7777;
    block.write(`${mode.toString(8).padStart(7, "0")}\0`, 100, "latin1");
    block.fill(0x20, 148, 156);
    let sum = 0;
    for (const byte of block) sum += byte;
    block.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
    const size = number(block.subarray(124, 136));
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

/** One tar entry as an extracting engine reads it (PAX records applied), content as a hash. */
export interface TarEntryRead {
  readonly name: string;
  readonly type: string;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly mtime: number;
  readonly linkname: string;
  readonly size: number;
  readonly devmajor: number;
  readonly devminor: number;
  readonly sha256: string;
}

/** The content of one regular file in a tar (a `docker save` archive, say). */
export function tarFile(tar: Buffer, name: string): Buffer {
  let offset = 0;
  while (offset + 512 <= tar.length) {
    const block = tar.subarray(offset, offset + 512);
    if (block.every((b) => b === 0)) break;
    const size = number(block.subarray(124, 136));
    if (text(block, 0, 100) === name) return tar.subarray(offset + 512, offset + 512 + size);
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  throw new Error(`${name} is not in the archive`);
}

/**
 * A small tar reader written from the format (POSIX ustar + pax, GNU base-256 numbers), independent of
 * the writer under test, that fails on anything malformed: bad checksums, truncation, missing end.
 */
export function tarEntries(tar: Buffer): TarEntryRead[] {
  const entries: TarEntryRead[] = [];
  let offset = 0;
  let pax: Record<string, string> = {};
  for (;;) {
    if (offset + 512 > tar.length) throw new Error(`tar truncated at ${offset} (no end-of-archive blocks)`);
    const block = tar.subarray(offset, offset + 512);
    if (block.every((b) => b === 0)) break;
    checkSum(block, offset);
    const type = String.fromCharCode(block[156] || 0x30);
    let size = number(block.subarray(124, 136));
    if (pax.size !== undefined) size = Number(pax.size);
    const data = tar.subarray(offset + 512, offset + 512 + size);
    if (data.length !== size) throw new Error(`tar truncated inside ${text(block, 0, 100)}`);
    offset += 512 + Math.ceil(size / 512) * 512;
    if (type === "x") {
      pax = { ...pax, ...paxRecords(data) };
      continue;
    }
    const prefix = text(block, 345, 155);
    const name = pax.path ?? (prefix ? `${prefix}/${text(block, 0, 100)}` : text(block, 0, 100));
    entries.push({
      name,
      type,
      mode: number(block.subarray(100, 108)),
      uid: number(block.subarray(108, 116)),
      gid: number(block.subarray(116, 124)),
      mtime: pax.mtime !== undefined ? Number(pax.mtime) : number(block.subarray(136, 148)),
      linkname: pax.linkpath ?? text(block, 157, 100),
      size,
      devmajor: number(block.subarray(329, 337)),
      devminor: number(block.subarray(337, 345)),
      sha256: createHash("sha256").update(data).digest("hex"),
    });
    pax = {};
  }
  if (!tar.subarray(offset, offset + 1024).every((b) => b === 0) || tar.length < offset + 1024)
    throw new Error("tar does not end with two zero blocks");
  return entries;
}

function text(block: Buffer, at: number, width: number): string {
  const field = block.subarray(at, at + width);
  const end = field.indexOf(0);
  return field.subarray(0, end < 0 ? width : end).toString("utf8");
}

function number(field: Buffer): number {
  if ((field[0] ?? 0) & 0x80) {
    // base-256, two's complement
    let value = BigInt((field[0] as number) & 0x7f);
    for (const byte of field.subarray(1)) value = (value << 8n) | BigInt(byte);
    if ((field[0] as number) & 0x40) value -= 1n << BigInt(field.length * 8 - 1);
    return Number(value);
  }
  const digits = field
    .toString("latin1")
    .replace(/[\0 ]+$/, "")
    .replace(/^[\0 ]+/, "");
  return digits === "" ? 0 : Number.parseInt(digits, 8);
}

function checkSum(block: Buffer, offset: number): void {
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : (block[i] as number);
  if (number(block.subarray(148, 156)) !== sum) throw new Error(`bad tar header checksum at ${offset}`);
}

function paxRecords(data: Buffer): Record<string, string> {
  const records: Record<string, string> = {};
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    const length = Number(data.subarray(at, space).toString("latin1"));
    const record = data.subarray(space + 1, at + length - 1).toString("utf8");
    const eq = record.indexOf("=");
    records[record.slice(0, eq)] = record.slice(eq + 1);
    at += length;
  }
  return records;
}

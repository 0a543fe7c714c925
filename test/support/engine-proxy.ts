import { mkdtempSync, rmSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * The fault harness for the Docker engine: a unix socket in front of the engine's own socket that a test
 * cuts (every open connection reset, the socket file gone: new connections get ENOENT, as when dockerd is
 * down) and restores. The preview under test talks to the engine through `DOCKER_HOST=unix://<socketPath>`.
 */
export class EngineProxy {
  readonly socketPath: string;
  private server: Server | undefined;
  private readonly open = new Set<Socket>();
  /** Requests (chunks written by the preview) passed on so far: a test can wait for the preview to come back. */
  requests = 0;
  /** When set, the first request whose bytes match it cuts the engine instead of reaching it. */
  private cutAt: RegExp | undefined;

  private constructor(private readonly target: string) {
    this.socketPath = join(mkdtempSync(join(tmpdir(), "ml-preview-engine-")), "docker.sock");
  }

  /** In front of the engine the test process itself uses (DOCKER_HOST or the default socket). */
  static async start(): Promise<EngineProxy> {
    const host = process.env.DOCKER_HOST ?? "";
    const target = host.startsWith("unix://") ? host.slice("unix://".length) : "/var/run/docker.sock";
    const proxy = new EngineProxy(target);
    await proxy.restore();
    return proxy;
  }

  get dockerHost(): string {
    return `unix://${this.socketPath}`;
  }

  get isUp(): boolean {
    return this.server !== undefined;
  }

  /** The engine is gone: open connections break, new ones find no socket. */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.open) s.destroy();
    this.open.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(this.socketPath, { force: true });
  }

  /**
   * The engine goes away at one precise moment: when the preview sends a request matching `request` (its
   * request line, e.g. /^DELETE \/\S*networks\//), which never reaches the engine. Resolves once cut.
   */
  cutOn(request: RegExp): Promise<void> {
    this.cutAt = request;
    return new Promise((resolve) => {
      this.onCut = resolve;
    });
  }

  private onCut: (() => void) | undefined;

  /** The engine answers again. */
  async restore(): Promise<void> {
    if (this.server) return;
    const server = createServer((client) => {
      const upstream = connect(this.target);
      for (const s of [client, upstream]) {
        this.open.add(s);
        s.on("close", () => this.open.delete(s));
        s.on("error", () => {
          client.destroy();
          upstream.destroy();
        });
      }
      // Before the pipe's own listener: a matching request is dropped with the connection, never passed on.
      client.on("data", (chunk: Buffer) => {
        this.requests++;
        if (!this.cutAt?.test(chunk.toString("latin1"))) return;
        this.cutAt = undefined;
        upstream.destroy();
        client.destroy();
        void this.cut().then(() => this.onCut?.());
      });
      client.pipe(upstream);
      upstream.pipe(client);
    });
    rmSync(this.socketPath, { force: true });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.socketPath, () => resolve());
    });
    this.server = server;
  }

  async close(): Promise<void> {
    await this.cut();
  }
}

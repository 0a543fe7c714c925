import { randomBytes } from "node:crypto";
import type { Socket } from "node:net";
import { createServer, type Server } from "node:tls";
import { AgentSession } from "./agent-session.js";
import { createEdgeCertificates } from "./certs.js";
import { Endpoints } from "./endpoints.js";
import { type BindRecord, bindRecord, bindReply, errorReply } from "./messages.js";

type Json = Record<string, unknown>;

interface PlannedFailure {
  errorCode: string;
  message: string;
  remaining: number;
}

/** The loopback stand-in for ngrok's agent ingress. See index.ts for the public contract. */
export class LoopbackEdge {
  readonly binds: BindRecord[] = [];
  readonly authAttempts: { authtoken: string; ok: boolean }[] = [];
  readonly caCert: string;
  private readonly server: Server;
  private readonly endpoints = new Endpoints();
  private readonly agents = new Set<AgentSession>();
  private readonly rawSockets = new Set<Socket>();
  private readonly failures: PlannedFailure[] = [];
  private refuseUntil = 0;
  private port = 0;

  constructor(private readonly authtoken: string) {
    const certs = createEdgeCertificates();
    this.caCert = certs.caCert;
    this.server = createServer({ cert: certs.cert, key: certs.key });
    this.server.on("connection", (raw: Socket) => this.admit(raw));
    this.server.on("secureConnection", (socket) => this.accept(socket));
    // A client that gives up mid-handshake is not the edge's problem.
    this.server.on("tlsClientError", () => {});
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(0, "127.0.0.1", () => resolve());
    });
    const address = this.server.address();
    this.port = typeof address === "object" && address ? address.port : 0;
  }

  get serverAddr(): string {
    return `localhost:${this.port}`;
  }

  sessions(): number {
    let n = 0;
    for (const agent of this.agents) if (agent.authenticated) n++;
    return n;
  }

  activeListeners(): number {
    return this.endpoints.active();
  }

  failNextBinds(errorCode: string, message: string, count = 1): void {
    this.failures.push({ errorCode, message, remaining: count });
  }

  loseEndpoints(): void {
    this.endpoints.closeAll();
  }

  dropSessions(opts: { refuseForMs?: number } = {}): void {
    if (opts.refuseForMs) this.refuseUntil = Date.now() + opts.refuseForMs;
    for (const agent of this.agents) agent.destroy();
    for (const raw of this.rawSockets) raw.destroy();
  }

  async close(): Promise<void> {
    this.dropSessions();
    this.endpoints.closeAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private admit(raw: Socket): void {
    if (Date.now() < this.refuseUntil) {
      raw.destroy();
      return;
    }
    // ngrok's edge is written in Go, whose TCP sockets have TCP_NODELAY on; without it every small RPC
    // reply here would wait ~40 ms on Nagle + delayed ACK, a delay the real edge does not have.
    raw.setNoDelay(true);
    this.rawSockets.add(raw);
    raw.on("close", () => this.rawSockets.delete(raw));
    raw.on("error", () => {});
  }

  private accept(socket: Socket): void {
    socket.on("error", () => {});
    const agent = new AgentSession(socket, {
      authenticate: (token) => this.authenticate(token),
      bind: (req, session) => this.bind(req, session),
      unbind: (id) => this.endpoints.unbind(id),
      ended: (session) => {
        this.agents.delete(session);
        this.endpoints.sessionEnded(session);
      },
    });
    this.agents.add(agent);
  }

  private authenticate(token: string): Json | undefined {
    const ok = token !== "" && token === this.authtoken;
    this.authAttempts.push({ authtoken: token, ok });
    if (ok) return undefined;
    if (token === "") {
      return errorReply("Usage of ngrok requires a verified account and authtoken.", "ERR_NGROK_4018");
    }
    return errorReply("The authtoken you specified is not valid.", "ERR_NGROK_105");
  }

  private async bind(req: unknown, session: AgentSession): Promise<Json> {
    const failure = this.failures[0];
    if (failure) {
      if (--failure.remaining <= 0) this.failures.shift();
      this.binds.push(bindRecord(req, ""));
      return errorReply(failure.message, failure.errorCode);
    }
    // A first Bind may come without an Id: the edge names the tunnel, and the SDK re-binds with that name.
    const asked = (req as { Id?: unknown }).Id;
    const id = typeof asked === "string" && asked ? asked : `tn_${randomBytes(8).toString("hex")}`;
    const port = await this.endpoints.bind(id, session);
    // The agent may have gone while the port was opening.
    if (!session.authenticated) this.endpoints.sessionEnded(session);
    const url = `http://127.0.0.1:${port}`;
    this.binds.push(bindRecord(req, url, id));
    return bindReply({ ...(req as Json), Id: id }, url);
  }
}

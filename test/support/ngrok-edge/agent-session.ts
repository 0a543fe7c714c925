import { randomBytes } from "node:crypto";
import type { Socket } from "node:net";
import { startHeartbeat } from "./heartbeat.js";
import { authReply, authTokenOf, bindIdOf, errorReply, proxyPreamble, StreamKind } from "./messages.js";
import { MuxSession } from "./mux-session.js";
import type { MuxStream } from "./mux-stream.js";
import { echoHeartbeats, readKind, serveRpc } from "./typed.js";

type Json = Record<string, unknown>;

/** What the edge decides; the session only speaks the protocol. */
export interface SessionHooks {
  /** undefined = accepted; otherwise the error reply to send. */
  authenticate(token: string): Json | undefined;
  bind(req: unknown, session: AgentSession): Promise<Json>;
  unbind(id: string): void;
  ended(session: AgentSession): void;
}

/** One connected agent: a muxado session whose typed streams are Auth/Bind/Unbind RPCs and heartbeats. */
export class AgentSession {
  readonly clientId = randomBytes(8).toString("hex");
  private authed = false;
  private readonly mux: MuxSession;
  private readonly stopHeartbeat: () => void;

  constructor(
    private readonly socket: Socket,
    private readonly hooks: SessionHooks,
  ) {
    this.mux = new MuxSession(socket);
    this.mux.on("stream", (stream: MuxStream) =>
      readKind(stream, (kind, rest) => this.route(stream, kind, rest)),
    );
    this.mux.on("close", () => {
      this.stopHeartbeat();
      hooks.ended(this);
    });
    this.stopHeartbeat = startHeartbeat(this.mux.open(), () => this.destroy());
  }

  get authenticated(): boolean {
    return this.authed && !this.mux.isEnded;
  }

  /** A server-opened Proxy stream carrying one visitor connection of endpoint `bindId`. */
  openProxy(bindId: string, visitor: Socket): MuxStream | undefined {
    if (this.mux.isEnded) return undefined;
    const stream = this.mux.open();
    const clientAddr = `${visitor.remoteAddress ?? "127.0.0.1"}:${visitor.remotePort ?? 0}`;
    stream.write(proxyPreamble(bindId, clientAddr, "http"));
    return stream;
  }

  destroy(): void {
    this.mux.destroy();
    this.socket.destroy();
  }

  private route(stream: MuxStream, kind: number, rest: Buffer): void {
    if (kind === StreamKind.Heartbeat) echoHeartbeats(stream, rest);
    else if (kind === StreamKind.Auth) serveRpc(stream, rest, async (req) => this.auth(req));
    else if (kind === StreamKind.Bind) serveRpc(stream, rest, async (req) => this.bind(req));
    else if (kind === StreamKind.Unbind) {
      serveRpc(stream, rest, async (req) => {
        // The SDK may unbind twice (close, then drop): the second one is a no-op.
        this.hooks.unbind(bindIdOf(req));
        return {};
      });
    } else stream.reset();
  }

  private bind(req: unknown): Promise<Json> | Json {
    return this.authed ? this.hooks.bind(req, this) : errorReply("Authenticate first.", "ERR_NGROK_4018");
  }

  private auth(req: unknown): Json {
    const refusal = this.hooks.authenticate(authTokenOf(req));
    if (refusal) return refusal;
    this.authed = true;
    const previous = (req as { ClientId?: unknown }).ClientId;
    return authReply(req, typeof previous === "string" && previous ? previous : this.clientId);
  }
}

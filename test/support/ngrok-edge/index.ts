/**
 * A loopback ngrok edge for tests: a TLS server on 127.0.0.1 speaking ngrok's agent protocol (muxado
 * framing, typed streams, JSON RPCs) well enough for the real @ngrok/ngrok SDK to authenticate, bind an
 * HTTP endpoint and carry real traffic. Each bound endpoint gets a plain TCP "front" port on 127.0.0.1 and
 * the URL `http://127.0.0.1:<port>`, so a test can reach the app through the tunnel without DNS.
 * Protocol notes: /work/shared/design/ngrok-agent-protocol.md.
 */
import { LoopbackEdge } from "./edge.js";
import type { BindRecord } from "./messages.js";

export type { BindRecord };

export interface NgrokEdgeOptions {
  /** The only accepted token; default "test-authtoken". */
  authtoken?: string;
}

export interface NgrokEdge {
  /** "localhost:PORT": pass to the SDK's server_addr / serverAddr. */
  readonly serverAddr: string;
  /** PEM of the throwaway CA: pass to the SDK's session_ca_cert / caCert. */
  readonly caCert: string;
  /** Every Bind received, in order (refused ones too, with url ""). */
  readonly binds: BindRecord[];
  readonly authAttempts: { authtoken: string; ok: boolean }[];
  /**
   * Currently connected, authenticated agent sessions. The SDK's close (Session.close(), ngrok.disconnect(),
   * ngrok.kill()) leaves the TCP connection open; the edge notices through its own heartbeat within ~2 s.
   */
  sessions(): number;
  /** Front ports currently listening (one per live bound endpoint). */
  activeListeners(): number;
  /** Refuse the next `count` (default 1) Binds with this ngrok error, e.g. "ERR_NGROK_334". */
  failNextBinds(errorCode: string, message: string, count?: number): void;
  /**
   * Forget every endpoint while the agent sessions stay connected: how an edge-side loss (or an endpoint
   * stopped from ngrok's dashboard) looks to a visitor; here nothing listens at the URL any more.
   */
  loseEndpoints(): void;
  /** Cut every agent connection; optionally close new connections at once for a while. */
  dropSessions(opts?: { refuseForMs?: number }): void;
  close(): Promise<void>;
}

export async function startNgrokEdge(opts: NgrokEdgeOptions = {}): Promise<NgrokEdge> {
  const edge = new LoopbackEdge(opts.authtoken ?? "test-authtoken");
  await edge.listen();
  return edge;
}

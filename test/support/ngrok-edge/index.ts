/**
 * A loopback ngrok edge for tests: a TLS server on 127.0.0.1 speaking ngrok's agent protocol (muxado
 * framing, typed streams, JSON RPCs) well enough for the real @ngrok/ngrok SDK to authenticate, bind an
 * HTTP endpoint and carry real traffic. Each bound endpoint gets a plain TCP "front" port on 127.0.0.1 and
 * the URL `http://127.0.0.1:<port>`, so a test can reach the app through the tunnel without DNS. Like
 * ngrok's edge it refuses traffic policies ngrok refuses, and enforces the bound policy on visitors
 * (policy.ts, visitor-gate.ts).
 * Protocol notes: /work/shared/design/ngrok-agent-protocol.md.
 */
import { LoopbackEdge, type PlanMode } from "./edge.js";
import type { BindRecord } from "./messages.js";

export { OAUTH_TEST_EMAIL_HEADER } from "./visitor-gate.js";
export type { BindRecord, PlanMode };

export interface NgrokEdgeOptions {
  /** The only accepted token; default "test-authtoken". */
  authtoken?: string;
  /**
   * The account's plan (default "paid"). Both validate every bound traffic policy as ngrok does and
   * enforce it on visitors. "free" adds the free plan's limits: 5 rules per policy (ERR_NGROK_2264), one
   * dev domain (one URL) shared by every endpoint, so a second bind while one is online is ERR_NGROK_334
   * unless both pool, any other `domain` refused (ERR_NGROK_313 for ngrok subdomains, 319 otherwise), and
   * the browser interstitial for browser-like requests without
   * `ngrok-skip-browser-warning`.
   */
  plan?: PlanMode;
}

export interface NgrokEdge {
  /** "localhost:PORT": pass to the SDK's server_addr / serverAddr. */
  readonly serverAddr: string;
  /** PEM of the throwaway CA: pass to the SDK's session_ca_cert / caCert. */
  readonly caCert: string;
  /** The account's dev domain: on the free plan the only `domain` a bind may ask for (else 313/319). */
  readonly devDomain: string;
  /** Every Bind received, in order (refused ones too, with url ""). */
  readonly binds: BindRecord[];
  readonly authAttempts: { authtoken: string; ok: boolean }[];
  /**
   * Currently connected, authenticated agent sessions. The SDK's close (Session.close(), ngrok.disconnect(),
   * ngrok.kill()) leaves the TCP connection open; the edge notices through its own heartbeat within ~2 s.
   */
  sessions(): number;
  /** Endpoints currently online (their URL reaches the agent; other URLs answer ERR_NGROK_3200). */
  activeListeners(): number;
  /** Refuse the next `count` (default 1) Binds with this ngrok error, e.g. "ERR_NGROK_334". */
  failNextBinds(errorCode: string, message: string, count?: number): void;
  /**
   * Forget every endpoint while the agent sessions stay connected: how an edge-side loss (or an endpoint
   * stopped from ngrok's dashboard) looks to a visitor: the URL answers ngrok's offline page
   * (404, `ngrok-error-code: ERR_NGROK_3200`), as it does after an unbind or a lost session.
   */
  loseEndpoints(): void;
  /**
   * From now on every visitor gets ngrok's page for the account instead of the app (725, 727, 734, 4026,
   * 4027, 3208: quota, credit, bandwidth, ban); undefined ends it.
   */
  answerVisitorsWith(code: number | undefined): void;
  /** Cut every agent connection; optionally close new connections at once for a while. */
  dropSessions(opts?: { refuseForMs?: number }): void;
  close(): Promise<void>;
}

export async function startNgrokEdge(opts: NgrokEdgeOptions = {}): Promise<NgrokEdge> {
  const edge = new LoopbackEdge(opts.authtoken ?? "test-authtoken", opts.plan);
  await edge.listen();
  return edge;
}

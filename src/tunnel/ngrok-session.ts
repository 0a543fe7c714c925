import * as ngrok from "@ngrok/ngrok";
import type { TunnelConfig } from "../config/types.js";
import type { Logger } from "../log.js";
import { explainNgrokError, type NgrokErrorContext, redact } from "./ngrok-errors.js";
import { abortable } from "./sleep.js";
import type { Watchdog } from "./watchdog.js";

export type NgrokTunnelConfig = Extract<TunnelConfig, { provider: "ngrok" }>;

/** A connect that neither answers nor fails (a black-holed address) must not hold the preview forever. */
const CONNECT_TIMEOUT_MS = 30_000;

/**
 * Connect one agent session (a SessionBuilder session, so it can be closed: `ngrok.forward()` + `kill()`
 * would leave it connected until the process exits). Disconnections and heartbeat answers feed the watchdog;
 * heartbeats are made frequent enough for the watchdog to see a reconnect well within its limit.
 */
export interface SessionOptions {
  /** JSON naming the preview, shown for the agent session in ngrok's dashboard. */
  readonly metadata: string;
  readonly watchdog: Watchdog;
  readonly watchdogMs: number;
  /** True once our close() began: disconnections after that are expected. */
  readonly isClosed: () => boolean;
  readonly log: Logger;
  readonly ctx: NgrokErrorContext;
  readonly signal?: AbortSignal;
}

export async function connectSession(
  config: NgrokTunnelConfig,
  { metadata, watchdog, watchdogMs, isClosed, log, ctx, signal }: SessionOptions,
): Promise<ngrok.Session> {
  const builder = new ngrok.SessionBuilder()
    .authtoken(config.authtoken)
    .metadata(metadata)
    .heartbeatInterval(clamp(Math.round(watchdogMs / 3000), 1, 10))
    .heartbeatTolerance(clamp(Math.round(watchdogMs / 2000), 2, 15))
    // A number is an answered heartbeat; null is a missed one (the disconnection that follows counts).
    .handleHeartbeat((latency: number | null) => {
      if (typeof latency === "number") watchdog.up();
    })
    // Always `true` (keep reconnecting): on `false` the SDK prints "Aborting connection…" to stdout, which
    // would corrupt the CLI's --json output; close() ends the reconnect loop anyway.
    .handleDisconnection((_addr, error) => {
      if (isClosed()) return true;
      const reason = redact(error, ctx.secrets ?? []);
      log.warning(`The ngrok session was disconnected (${reason}); reconnecting.`);
      watchdog.down(reason);
      return true;
    });
  if (config.serverAddr) builder.serverAddr(config.serverAddr);
  if (config.caCert) builder.caCert(Buffer.from(config.caCert));
  const pending = builder.connect();
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const giveUp = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error("failed to establish tcp connection: timed out")),
      CONNECT_TIMEOUT_MS,
    );
    onAbort = () => reject(new Error("aborted"));
    signal?.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([pending, giveUp]);
  } catch (err) {
    // A session that connects after we gave up is closed at once, never left behind.
    pending.then((late) => late.close()).catch(() => undefined);
    abortable(signal, "tunnel");
    throw explainNgrokError(err, ctx);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener("abort", onAbort);
  }
}

function clamp(n: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, n));
}

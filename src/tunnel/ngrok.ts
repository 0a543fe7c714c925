import type * as ngrok from "@ngrok/ngrok";
import {
  buildTrafficPolicy,
  describeProtection,
  protectionNames,
  ruleLimitWarning,
} from "../config/policy.js";
import type { Protection } from "../config/types.js";
import { ConfigError, PreviewError } from "../errors.js";
import type { Logger } from "../log.js";
import { bindEndpoint } from "./ngrok-bind.js";
import { explainNgrokError, type NgrokErrorContext } from "./ngrok-errors.js";
import { connectSession, type NgrokTunnelConfig } from "./ngrok-session.js";
import { abortable, settleWithin } from "./sleep.js";
import { LINK_UP, type Tunnel, type TunnelMetadata } from "./types.js";
import { checkLink, verifyTunnel } from "./verify.js";
import { createWatchdog, lostNotifier } from "./watchdog.js";

export interface NgrokOpenOptions {
  readonly watchdogMs: number;
  readonly collisionRetryMs: number;
  readonly signal?: AbortSignal;
}

/** A closing RPC over a dead session would wait for the SDK's reconnect backoff: don't. */
const CLOSE_TIMEOUT_MS = 2_000;

/** Session, then endpoint, then a Tunnel whose close() unbinds and disconnects. Secrets never logged. */
export async function openNgrokTunnel(
  config: NgrokTunnelConfig,
  target: { port: number },
  meta: TunnelMetadata,
  log: Logger,
  opts: NgrokOpenOptions,
): Promise<Tunnel> {
  const secrets = [
    config.authtoken,
    config.protection.basicAuth?.password ?? "",
    config.protection.oauth?.clientSecret ?? "",
  ].filter((s) => s !== "");
  const ctx: NgrokErrorContext = { serverAddr: config.serverAddr, domain: config.domain, secrets };
  if (config.authtoken === "") throw explainNgrokError(new Error("ERR_NGROK_4018"), ctx);
  abortable(opts.signal, "tunnel");
  const policy = trafficPolicyText(config.protection, log);
  const lost = lostNotifier();
  const watchdog = createWatchdog(opts.watchdogMs, (reason) => {
    log.warning(`The tunnel is lost: ${reason}.`);
    lost.fire(reason);
  });
  let closed = false;
  log.info(
    `Opening an ngrok tunnel to 127.0.0.1:${target.port}` +
      `${config.domain ? ` on ${config.domain}` : ""}${config.serverAddr ? ` via ${config.serverAddr}` : ""}` +
      `${describeProtection(config.protection)}.`,
  );
  const session = await connectSession(config, {
    metadata: metadataJson(meta),
    watchdog,
    watchdogMs: opts.watchdogMs,
    isClosed: () => closed,
    log,
    ctx,
    signal: opts.signal,
  });
  let listener: ngrok.Listener;
  try {
    const spec = {
      domain: config.domain,
      trafficPolicy: policy,
      forwardsTo: forwardsTo(meta),
      metadata: metadataJson(meta),
      upstream: `127.0.0.1:${target.port}`,
    };
    listener = await bindEndpoint(session, spec, log, ctx, opts.collisionRetryMs, opts.signal);
  } catch (err) {
    closed = true;
    watchdog.stop();
    await settleWithin(CLOSE_TIMEOUT_MS, session.close(), log, "closing the ngrok session");
    throw err;
  }
  const url = listener.url() ?? undefined;
  log.info(`ngrok tunnel online: ${url}`);
  let closing: Promise<void> | undefined;
  const names = protectionNames(config.protection);
  return {
    url,
    protection: names.length > 0 ? names.join(", ") : undefined,
    onLost: lost.listen,
    async verify(signal) {
      if (url) await verifyTunnel(url, config.protection, { signal });
    },
    linkUp: (signal) => (url ? checkLink(url, config.protection, signal) : Promise.resolve(LINK_UP)),
    close() {
      closing ??= (async () => {
        closed = true;
        watchdog.stop();
        await settleWithin(CLOSE_TIMEOUT_MS, listener.close(), log, "closing the ngrok listener");
        await settleWithin(CLOSE_TIMEOUT_MS, session.close(), log, "closing the ngrok session");
      })();
      return closing;
    },
  };
}

/** Protection inputs as one policy; a bad combination is the user's to fix, reported at the tunnel step. */
function trafficPolicyText(protection: Protection, log: Logger): string | undefined {
  try {
    const policy = buildTrafficPolicy(protection);
    const overFreeLimit = ruleLimitWarning(policy);
    if (overFreeLimit) log.warning(overFreeLimit);
    return policy === undefined ? undefined : JSON.stringify(policy);
  } catch (err) {
    if (err instanceof ConfigError) throw new PreviewError("tunnel", err.message, { code: "TRAFFIC_POLICY" });
    throw err;
  }
}

/**
 * What ngrok's dashboard shows for the endpoint. The SDK's default `forwards_to` is the runner's host name
 * and executable path; ours names only the preview.
 */
export function forwardsTo(meta: TunnelMetadata): string {
  return `ml-preview:${meta.name}`;
}

/** JSON naming repo, PR, run and preview, for the session and the endpoint (viewable in ngrok's API). */
export function metadataJson(meta: TunnelMetadata): string {
  return JSON.stringify({
    tool: "ml-preview",
    name: meta.name,
    ...(meta.repo === undefined ? {} : { repo: meta.repo }),
    ...(meta.pr === undefined ? {} : { pr: meta.pr }),
    ...(meta.run === undefined ? {} : { run: meta.run }),
  });
}

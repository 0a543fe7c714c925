import type { Protection } from "../config/types.js";
import { httpAnswer } from "../http.js";
import { ngrokCodeOf, publicUrlHeaders } from "./verify-classify.js";

/** ngrok's "endpoint is offline" page (https://ngrok.com/docs/errors/err_ngrok_3200/). */
const ENDPOINT_OFFLINE = 3200;
/** Loopback URLs: a self-hosted or test edge, where a refused connection does mean the endpoint is gone. */
const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/;
const CHECK_TIMEOUT_MS = 10_000;

/**
 * One GET of the live link: is the endpoint still there? The watchdog sees the agent session, but after
 * a reconnect the SDK re-binds on its own, and a re-bind that fails leaves a connected session with no
 * endpoint: a dead link that looks alive. "down" only when the endpoint itself is gone (ngrok's offline
 * page; on a loopback edge, nothing listening); a slow or failing app is "up" here, its problems are the
 * app's to report.
 */
export async function checkLink(
  url: string,
  protection: Protection,
  signal: AbortSignal,
): Promise<{ up: true } | { up: false; why: string }> {
  const answer = await httpAnswer(new URL(url), CHECK_TIMEOUT_MS, signal, publicUrlHeaders(protection));
  if ("status" in answer) {
    // The header only: an app's own error page may well mention ERR_NGROK_3200.
    const header = answer.headers["ngrok-error-code"];
    const code = ngrokCodeOf(typeof header === "string" ? header : null, "");
    if (code === ENDPOINT_OFFLINE)
      return { up: false, why: "ngrok says the endpoint is offline (ERR_NGROK_3200)" };
    return { up: true }; // anything else came from the endpoint: the app, or its protection
  }
  // Against ngrok's edge a refused connection, a DNS failure, a reset or a timeout is the runner's network
  // (a firewall, a proxy, a VPN), which a fresh tunnel would not mend: not the endpoint's fault.
  if (!answer.silent && answer.error === "ECONNREFUSED" && LOOPBACK.test(new URL(url).hostname)) {
    return { up: false, why: `nothing answers at ${url} (${answer.error})` };
  }
  return { up: true };
}

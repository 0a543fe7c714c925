import type { Protection } from "../config/types.js";
import { httpAnswer } from "../http.js";
import type { LinkState } from "./types.js";
import { classifyAnswer, ngrokCodeOf, publicUrlHeaders, visitorPlanError } from "./verify-classify.js";

/** ngrok's "endpoint is offline" page (https://ngrok.com/docs/errors/err_ngrok_3200/). */
const ENDPOINT_OFFLINE = 3200;
const CHECK_TIMEOUT_MS = 10_000;

/**
 * One GET of the live link: is the endpoint still there? The watchdog sees the agent session, but after
 * a reconnect the SDK re-binds on its own, and a re-bind that fails leaves a connected session with no
 * endpoint: a dead link that looks alive. "down" only when ngrok says the endpoint is gone (its offline
 * page); "final" when ngrok answers for the account instead (quota, credit, ban: a fresh tunnel would not
 * mend it). A slow or failing app is "up" here, its problems are the app's to report.
 */
export async function checkLink(
  url: string,
  protection: Protection,
  signal: AbortSignal,
): Promise<LinkState> {
  const answer = await httpAnswer(new URL(url), CHECK_TIMEOUT_MS, signal, publicUrlHeaders(protection));
  // A refused connection, a DNS failure, a reset or a timeout is the runner's network (a firewall, a
  // proxy, a VPN), which a fresh tunnel would not mend: not the endpoint's fault.
  if (!("status" in answer)) return { up: true };
  // The header only: an app's own error page may well mention ERR_NGROK_3200.
  const header = answer.headers["ngrok-error-code"];
  const code = ngrokCodeOf(typeof header === "string" ? header : null, "");
  if (code === ENDPOINT_OFFLINE)
    return { up: false, why: "ngrok says the endpoint is offline (ERR_NGROK_3200)" };
  if (code !== undefined && classifyAnswer(answer.status, code, protection) === "final") {
    return { up: false, final: true, why: visitorPlanError(code) };
  }
  return { up: true }; // anything else came from the endpoint: the app, or its protection
}

import type { Protection } from "../config/types.js";
import { PreviewError } from "../errors.js";
import { httpAnswer } from "../http.js";
import { ngrokDocsUrl, VISITOR_PLAN_ERRORS } from "./ngrok-errors.js";
import { abortable, sleep } from "./sleep.js";
import type { LinkState } from "./types.js";

const RETRY_EVERY_MS = 500;
const REQUEST_TIMEOUT_MS = 10_000;
/** Only error pages are read (ngrok prints its code there); an app's page may be large. */
const ERROR_PAGE_BYTES = 65_536;
const NEVER = new AbortController().signal;

/**
 * GET the public URL until our endpoint answers (see classifyAnswer), so the link is known to work before
 * it is posted. Sends `ngrok-skip-browser-warning` (else free-plan visitors get ngrok's interstitial), and
 * never the basic-auth credentials: ngrok passes a request that carries them on to the app, Authorization
 * header and all (https://ngrok.com/docs/traffic-policy/actions/basic-auth/), and the app is the pull
 * request's code. Behind basic auth, ngrok's own 401 is the answer: the endpoint is up with its protection
 * (the app itself passed the local readiness check); any other answer without the password means the
 * protection is not in force, and the link is not posted. Redirects are not followed: a redirect to
 * ngrok's OAuth login is the answer. Throws PreviewError(step "verify") after `timeoutMs`.
 */
export async function verifyTunnel(
  url: string,
  protection: Protection,
  opts: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<{ status: number; ms: number }> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const started = Date.now();
  const headers = publicUrlHeaders();
  let last = "no answer yet";
  for (;;) {
    abortable(opts.signal, "verify");
    const left = started + timeoutMs - Date.now();
    const timeout = Math.max(1, Math.min(REQUEST_TIMEOUT_MS, left));
    const answer = await httpAnswer(new URL(url), timeout, opts.signal ?? NEVER, headers, ERROR_PAGE_BYTES);
    abortable(opts.signal, "verify");
    if ("status" in answer) {
      const header = answer.headers["ngrok-error-code"];
      const ngrokCode = ngrokCodeOf(typeof header === "string" ? header : null, answer.body ?? "");
      const kind = classifyAnswer(answer.status, ngrokCode, protection);
      if (kind === "ours" && protection.basicAuth && !refusedByProtection(answer.status, ngrokCode))
        throw unprotected(url, answer.status);
      if (kind === "ours") return { status: answer.status, ms: Date.now() - started };
      if (kind === "final") {
        throw new PreviewError(
          "verify",
          `The public URL ${url} answers with ngrok's error page instead of the app: ${visitorPlanError(ngrokCode!)}`,
          { code: `ERR_NGROK_${ngrokCode}` },
        );
      }
      last = `HTTP ${answer.status}${ngrokCode === undefined ? "" : ` ERR_NGROK_${ngrokCode}`}`;
    } else last = answer.silent ? "timed out" : answer.error;
    if (Date.now() + RETRY_EVERY_MS >= started + timeoutMs) throw notAnswering(url, timeoutMs, last);
    await sleep(RETRY_EVERY_MS, opts.signal);
  }
}

/** Without credentials, a protected endpoint answers with basic auth's 401, or restrict-ips' 403. */
function refusedByProtection(status: number, ngrokCode: number | undefined): boolean {
  return status === 401 || ngrokCode === IP_RESTRICTED;
}

function unprotected(url: string, status: number): PreviewError {
  return new PreviewError(
    "verify",
    `The public URL ${url} answered HTTP ${status} without the basic-auth password: ngrok did not apply the protection, so the link is not shared. Check the ngrok account (its plan) and the \`traffic-policy\` input, then run the preview again.`,
    { code: "PROTECTION_NOT_ENFORCED" },
  );
}

function notAnswering(url: string, timeoutMs: number, last: string): PreviewError {
  const hint = /8012|HTTP 50[234]/.test(last)
    ? "ngrok could not reach the app on the runner: check that the container is still running and listening."
    : /3200/.test(last)
      ? "ngrok reports the endpoint offline: the agent session may have dropped."
      : "The URL could not be reached from the runner: check outbound network access to ngrok.";
  return new PreviewError(
    "verify",
    `The public URL ${url} did not reach the app within ${Math.round(timeoutMs / 1000)} s (last: ${last}). ${hint}`,
    { code: "TUNNEL_NOT_ANSWERING" },
  );
}

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
  const answer = await httpAnswer(new URL(url), CHECK_TIMEOUT_MS, signal, publicUrlHeaders());
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

/** ngrok's "Request blocked by Endpoints IP Restriction" (https://ngrok.com/docs/errors/err_ngrok_3205/). */
const IP_RESTRICTED = 3205;

/**
 * Did this answer through the public URL come from our endpoint, or must we keep trying?
 * - An account out of quota, credit or bandwidth, or banned (VISITOR_PLAN_ERRORS): "final", waiting will
 *   not mend it.
 * - Any other ngrok error page (ERR_NGROK_3200 endpoint offline, 8012 upstream unreachable, …) is ngrok answering
 *   instead of us: retry. The one exception is the IP allow-list refusing the runner itself (3205), which
 *   is our endpoint's own policy at work.
 * - 502/503/504 without a code: the SDK answers 502 itself while the app is unreachable: retry.
 * - Anything else is our endpoint: 2xx/3xx (a redirect to ngrok's OAuth login included), 401 from
 *   basic-auth, 403 from restrict-ips or the OAuth allow-list, or the app's own 4xx.
 */
export function classifyAnswer(
  status: number,
  ngrokCode: number | undefined,
  protection: Protection | undefined,
): "ours" | "retry" | "final" {
  if (ngrokCode !== undefined && ngrokCode in VISITOR_PLAN_ERRORS) return "final";
  if (ngrokCode === IP_RESTRICTED && (protection?.allowCidrs.length ?? 0) > 0) return "ours";
  if (ngrokCode !== undefined) return "retry";
  if (status === 502 || status === 503 || status === 504) return "retry";
  return "ours";
}

/** A visitor-side plan error as the preview's failure: ngrok's advice, code and docs link. */
export function visitorPlanError(code: number): string {
  return `${VISITOR_PLAN_ERRORS[code]} (ERR_NGROK_${code}, ${ngrokDocsUrl(code)})`;
}

/** The ERR_NGROK code of an error page: ngrok sets `ngrok-error-code`, and its pages also print it. */
export function ngrokCodeOf(headerValue: string | null, body: string): number | undefined {
  const match = /ERR_NGROK_(\d+)/.exec(`${headerValue ?? ""} ${body}`);
  return match ? Number(match[1]) : undefined;
}

/**
 * Headers for our own requests through the public URL: skip ngrok's browser warning (free-plan visitors get
 * an interstitial otherwise). Never credentials: what passes ngrok's basic auth reaches the app with them.
 */
export function publicUrlHeaders(): Record<string, string> {
  return { "ngrok-skip-browser-warning": "1", "user-agent": "ml-preview" };
}

import type { Protection } from "../config/types.js";
import { ngrokDocsUrl, VISITOR_PLAN_ERRORS } from "./ngrok-errors.js";

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
 * Headers for a request through the public URL: skip ngrok's browser warning (free-plan visitors get an
 * interstitial otherwise) and, with basic-auth, send the credentials, so our own endpoint answers.
 */
export function publicUrlHeaders(protection: Protection): Record<string, string> {
  const headers: Record<string, string> = { "ngrok-skip-browser-warning": "1", "user-agent": "ml-preview" };
  if (protection.basicAuth) {
    const { username, password } = protection.basicAuth;
    headers.authorization = `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
  }
  return headers;
}

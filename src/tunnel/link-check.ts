import type { Protection } from "../config/types.js";
import { ngrokCodeOf } from "./verify-classify.js";

/** ngrok's "endpoint is offline" page (https://ngrok.com/docs/errors/err_ngrok_3200/). */
const ENDPOINT_OFFLINE = 3200;
/**
 * Nothing listens behind the URL any more. DNS failures, resets and timeouts are left out on purpose: they
 * more often mean the runner's own network hiccupped, and a fresh tunnel would not help then.
 */
const UNREACHABLE = new Set(["ECONNREFUSED"]);
const CHECK_TIMEOUT_MS = 10_000;

/**
 * One GET of the live link: is the endpoint still there? The watchdog sees the agent session, but after
 * a reconnect the SDK re-binds on its own, and a re-bind that fails leaves a connected session with no
 * endpoint: a dead link that looks alive. "down" only when the endpoint itself is gone (ngrok's offline
 * page, nothing listening); a slow or failing app is "up" here, its problems are the app's to report.
 */
export async function checkLink(
  url: string,
  protection: Protection,
  signal: AbortSignal,
): Promise<{ up: true } | { up: false; why: string }> {
  const headers: Record<string, string> = { "ngrok-skip-browser-warning": "1", "user-agent": "ml-preview" };
  if (protection.basicAuth) {
    const { username, password } = protection.basicAuth;
    headers.authorization = `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
  }
  try {
    const res = await fetch(url, {
      headers,
      redirect: "manual",
      signal: AbortSignal.any([signal, AbortSignal.timeout(CHECK_TIMEOUT_MS)]),
    });
    const body = res.status >= 400 ? (await res.text()).slice(0, 65_536) : "";
    if (res.status < 400) await res.body?.cancel();
    const code = ngrokCodeOf(res.headers.get("ngrok-error-code"), body);
    if (code === ENDPOINT_OFFLINE)
      return { up: false, why: "ngrok says the endpoint is offline (ERR_NGROK_3200)" };
    return { up: true }; // anything else came from the endpoint: the app, or its protection
  } catch (err) {
    const code = (err as { cause?: { code?: string } }).cause?.code;
    if (code && UNREACHABLE.has(code)) return { up: false, why: `nothing answers at ${url} (${code})` };
    return { up: true }; // inconclusive (see UNREACHABLE): the endpoint is not blamed
  }
}

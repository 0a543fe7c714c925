import type { Protection } from "../config/types.js";
import { PreviewError } from "../errors.js";
import { httpAnswer } from "../http.js";
import { abortable, sleep } from "./sleep.js";
import { classifyAnswer, ngrokCodeOf, publicUrlHeaders, visitorPlanError } from "./verify-classify.js";

const RETRY_EVERY_MS = 500;
const REQUEST_TIMEOUT_MS = 10_000;
/** Only error pages are read (ngrok prints its code there); an app's page may be large. */
const ERROR_PAGE_BYTES = 65_536;
const NEVER = new AbortController().signal;

/**
 * GET the public URL until our endpoint answers (see classifyAnswer), so the link is known to work before
 * it is posted. Sends `ngrok-skip-browser-warning` (else free-plan visitors get ngrok's interstitial) and,
 * with basic-auth, the credentials. Redirects are not followed: a redirect to ngrok's OAuth login is the
 * answer. Throws PreviewError(step "verify") after `timeoutMs`.
 */
export async function verifyTunnel(
  url: string,
  protection: Protection,
  opts: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<{ status: number; ms: number }> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const started = Date.now();
  const headers = publicUrlHeaders(protection);
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

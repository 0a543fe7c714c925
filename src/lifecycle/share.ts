import { setTimeout as sleep } from "node:timers/promises";
import { PreviewError } from "../errors.js";
import { httpAnswer } from "../http.js";
import { type Logger, silentLogger } from "../log.js";

/**
 * `share`: the app runs already; wait until something answers HTTP on its port (any status counts).
 * The signal ends the wait at once, mid-probe too (a stop request, or the tunnel failing meanwhile).
 */
export async function waitForLocalApp(
  url: string,
  timeoutMs: number,
  signal: AbortSignal,
  log: Logger = silentLogger,
): Promise<void> {
  const started = Date.now();
  const deadline = started + timeoutMs;
  let delay = 20;
  let last = "";
  let refusedSince: number | undefined;
  let shownAt = started;
  log.info(`Waiting for your app to answer at ${url}…`);
  while (Date.now() < deadline) {
    if (signal.aborted) throw signal.reason ?? new Error("stopped");
    const answer = await httpAnswer(new URL(url), PROBE_TIMEOUT_MS, signal);
    if ("status" in answer) return;
    last = answer.silent ? "timed out" : answer.error;
    refusedSince = last === "ECONNREFUSED" ? (refusedSince ?? Date.now()) : undefined;
    if (refusedSince !== undefined && Date.now() - refusedSince >= REFUSED_GIVE_UP_MS) {
      throw await nothingListens(url, signal);
    }
    if (Date.now() - shownAt >= PROGRESS_EVERY_MS) {
      shownAt = Date.now();
      log.info(`… still waiting for ${url} (${Math.round((shownAt - started) / 1000)} s): ${last}`);
    }
    await sleep(delay, undefined, { signal }).catch(() => undefined);
    delay = Math.min(delay * 2, 500);
  }
  if (refusedSince !== undefined) throw await nothingListens(url, signal);
  throw new PreviewError(
    "ready",
    `Nothing answers at ${url} after ${Math.round(timeoutMs / 1000)} s (${last}): something accepts connections there but sends no HTTP answer. Check --port, or raise --ready-timeout if the app is still starting.`,
    { code: "READY_TIMEOUT" },
  );
}

/**
 * `share` is for an app that runs already: a port that keeps refusing this long has nothing behind it, and
 * saying so now beats waiting out `ready-timeout` (an app that accepts but answers slowly still gets that).
 */
const REFUSED_GIVE_UP_MS = 3000;
const PROGRESS_EVERY_MS = 5000;
const PROBE_TIMEOUT_MS = 2000;

/** The port refuses: nothing listens there, or only on IPv6's ::1 (a `localhost` bind on some systems). */
async function nothingListens(url: string, signal: AbortSignal): Promise<PreviewError> {
  const { port } = new URL(url);
  const v6 = "status" in (await httpAnswer(new URL(`http://[::1]:${port}`), PROBE_TIMEOUT_MS, signal));
  if (v6) {
    return new PreviewError(
      "ready",
      `Your app listens on [::1]:${port} (IPv6 only), and the tunnel connects to 127.0.0.1:${port}. Start it on 127.0.0.1 or 0.0.0.0 (e.g. \`--host 127.0.0.1\`).`,
      { code: "APP_LISTENS_ON_IPV6_LOOPBACK" },
    );
  }
  return new PreviewError(
    "ready",
    `Nothing listens on port ${port} on this machine (connection refused). Start your app first, then run share with the port it prints (e.g. "Running on http://127.0.0.1:8050" → --port 8050).`,
    { code: "NOTHING_LISTENS" },
  );
}

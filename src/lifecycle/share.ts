import { request } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { PreviewError } from "../errors.js";

/**
 * `share`: the app runs already; wait until something answers HTTP on its port (any status counts).
 * The signal ends the wait at once, mid-probe too (a stop request, or the tunnel failing meanwhile).
 */
export async function waitForLocalApp(url: string, timeoutMs: number, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let delay = 20;
  let last = "";
  while (Date.now() < deadline) {
    if (signal.aborted) throw signal.reason ?? new Error("stopped");
    try {
      await probe(url, signal);
      return;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(delay, undefined, { signal }).catch(() => undefined);
    delay = Math.min(delay * 2, 500);
  }
  throw new PreviewError(
    "ready",
    `Nothing answers at ${url} (${last}). Start your app first (e.g. a Dash app on port 8050) and check --port.`,
  );
}

function probe(url: string, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "GET", timeout: 2000, signal }, (res) => {
      res.resume();
      resolve();
    });
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end();
  });
}

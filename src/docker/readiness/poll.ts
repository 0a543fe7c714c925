import type { ProbeOutcome, ReadinessContext } from "./types.js";

/**
 * Delays between looks: fast at first (most apps that are quick are very quick), then a steady 60 ms.
 * A look is one loopback connection that is refused or reset while the app loads: cheap even for minutes of
 * model loading, and it keeps the lag for apps that print nothing when they start listening near 30 ms
 * median (the goal is 50 ms). Apps that do print a line are found within a few ms through the nudge.
 */
const FAST_DELAYS_MS = [10, 10, 15, 20, 25, 35, 50];
export const MAX_POLL_DELAY_MS = 60;
/** Nudges never make looks closer than this: an app printing 1000 lines/s while loading is not probed 1000×/s. */
export const MIN_NUDGE_GAP_MS = 5;

export function backoffDelay(attempt: number): number {
  return FAST_DELAYS_MS[attempt] ?? MAX_POLL_DELAY_MS;
}

/**
 * Calls `probe` until it says ready. While nothing answers, a nudge (a new log line, e.g. "Uvicorn
 * running on ...") cuts the current sleep short, and one that arrived during a probe skips the sleep:
 * this is what keeps detection lag to a few ms for apps that announce themselves.
 */
export async function pollUntilReady(
  ctx: ReadinessContext,
  probe: (signal: AbortSignal) => Promise<ProbeOutcome>,
  delay: (attempt: number) => number = backoffDelay,
): Promise<void> {
  let nudged = false;
  let wake: (() => void) | undefined;
  const unsubscribe = ctx.onNudge(() => {
    nudged = true;
    wake?.();
  });
  try {
    for (let attempt = 0; ; attempt++) {
      ctx.signal.throwIfAborted();
      nudged = false;
      const outcome = await probe(ctx.signal);
      if (outcome === "ready") return;
      const hurry = outcome === "down";
      const woken = await sleep(hurry && nudged ? MIN_NUDGE_GAP_MS : delay(attempt), ctx.signal, (fn) => {
        wake = hurry ? fn : undefined;
      });
      wake = undefined;
      if (woken || (hurry && nudged)) attempt = -1;
    }
  } finally {
    unsubscribe();
  }
}

/** Resolves false after `ms`, true when woken early (but not before MIN_NUDGE_GAP_MS); rejects on abort. */
function sleep(ms: number, signal: AbortSignal, setWake: (wake: () => void) => void): Promise<boolean> {
  signal.throwIfAborted();
  const start = performance.now();
  return new Promise((resolve, reject) => {
    let timer: NodeJS.Timeout;
    const done = (woken: boolean) => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      resolve(woken);
    };
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    timer = setTimeout(() => done(false), ms);
    signal.addEventListener("abort", onAbort, { once: true });
    setWake(() => {
      const left = start + MIN_NUDGE_GAP_MS - performance.now();
      clearTimeout(timer);
      if (left <= 0) done(true);
      else timer = setTimeout(() => done(true), left);
    });
  });
}

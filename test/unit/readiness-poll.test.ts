import { describe, expect, it } from "vitest";
import { backoffDelay, MAX_POLL_DELAY_MS, pollUntilReady } from "../../src/docker/readiness/poll.js";
import type { ProbeOutcome, ReadinessContext } from "../../src/docker/readiness/types.js";

function context() {
  const controller = new AbortController();
  const listeners = new Set<() => void>();
  const ctx: ReadinessContext = {
    signal: controller.signal,
    onNudge: (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    note: () => undefined,
  };
  return {
    ctx,
    controller,
    nudge: () => {
      for (const l of listeners) l();
    },
    listeners,
  };
}

describe("backoffDelay", () => {
  it("starts fast, never shrinks, and caps at the steady interval", () => {
    const delays = Array.from({ length: 40 }, (_, i) => backoffDelay(i));
    expect(delays[0]).toBeLessThanOrEqual(25);
    for (let i = 1; i < delays.length; i++) expect(delays[i]).toBeGreaterThanOrEqual(delays[i - 1]!);
    expect(Math.max(...delays)).toBe(MAX_POLL_DELAY_MS);
    expect(MAX_POLL_DELAY_MS).toBeLessThanOrEqual(100);
  });
});

/** A delay function that records each attempt and says when the poller is about to sleep. */
function recordingDelay(ms: (attempt: number) => number = backoffDelay) {
  const attempts: number[] = [];
  let sleeping: () => void = () => undefined;
  return {
    attempts,
    delay: (attempt: number) => {
      attempts.push(attempt);
      sleeping();
      return ms(attempt);
    },
    /** Resolves once the poller has started its next sleep. */
    nextSleep: () => new Promise<void>((r) => (sleeping = r)),
  };
}

/** Longer than any test runs: a poller that sleeps this long can only end through a nudge or an abort. */
const AN_HOUR = 3_600_000;

describe("pollUntilReady", () => {
  it("probes until ready, quickly at first", async () => {
    const { ctx } = context();
    const { attempts, delay } = recordingDelay();
    let calls = 0;
    await pollUntilReady(ctx, async () => (++calls >= 5 ? "ready" : "down"), delay);
    expect(calls).toBe(5);
    // The fast end of the back-off, from its first step (speed itself is the benchmark's readiness row).
    expect(attempts).toEqual([0, 1, 2, 3]);
  });

  it("a nudge while nothing answers cuts the capped sleep short", async () => {
    const { ctx, nudge } = context();
    const { delay, nextSleep } = recordingDelay(() => AN_HOUR);
    let up = false;
    const asleep = nextSleep();
    const done = pollUntilReady(ctx, async (): Promise<ProbeOutcome> => (up ? "ready" : "down"), delay);
    await asleep;
    up = true;
    nudge();
    // Only the nudge ends an hour's sleep within the test's own timeout.
    await done;
  });

  it("a nudge that arrives during a failing probe means: look again right away", async () => {
    const { ctx, nudge } = context();
    const { attempts, delay } = recordingDelay(() => AN_HOUR);
    let calls = 0;
    await pollUntilReady(
      ctx,
      async () => {
        calls++;
        if (calls === 1) {
          nudge(); // the app printed "listening" while this probe was failing
          return "down";
        }
        return "ready";
      },
      delay,
    );
    expect(calls).toBe(2);
    // The look after the nudge did not sleep the back-off's (hour-long) step.
    expect(attempts).toEqual([]);
  });

  it("ignores nudges once the app answers (its own access log must not speed up polling)", async () => {
    const { ctx, nudge } = context();
    const times: number[] = [];
    const done = pollUntilReady(ctx, async (): Promise<ProbeOutcome> => {
      times.push(performance.now());
      return times.length > 14 ? "ready" : "up";
    });
    const spam = setInterval(nudge, 1);
    await done;
    clearInterval(spam);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    expect(gaps.slice(-3).every((g) => g >= MAX_POLL_DELAY_MS - 5)).toBe(true);
  });

  it("rejects promptly when aborted, and unsubscribes", async () => {
    const { ctx, controller, listeners } = context();
    const { delay, nextSleep } = recordingDelay(() => AN_HOUR);
    const asleep = nextSleep();
    const done = pollUntilReady(ctx, async () => "down", delay);
    await asleep;
    controller.abort(new Error("stop"));
    // Only the abort ends an hour's sleep within the test's own timeout.
    await expect(done).rejects.toThrow("stop");
    expect(listeners.size).toBe(0);
  });
});

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

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("backoffDelay", () => {
  it("starts fast, never shrinks, and caps at the steady interval", () => {
    const delays = Array.from({ length: 40 }, (_, i) => backoffDelay(i));
    expect(delays[0]).toBeLessThanOrEqual(25);
    for (let i = 1; i < delays.length; i++) expect(delays[i]).toBeGreaterThanOrEqual(delays[i - 1]!);
    expect(Math.max(...delays)).toBe(MAX_POLL_DELAY_MS);
    expect(MAX_POLL_DELAY_MS).toBeLessThanOrEqual(100);
  });
});

describe("pollUntilReady", () => {
  it("probes until ready, quickly at first", async () => {
    const { ctx } = context();
    let calls = 0;
    const t0 = performance.now();
    await pollUntilReady(ctx, async () => (++calls >= 5 ? "ready" : "down"));
    expect(calls).toBe(5);
    expect(performance.now() - t0).toBeLessThan(200);
  });

  it("a nudge while nothing answers cuts the capped sleep short", async () => {
    const { ctx, nudge } = context();
    let up = false;
    const probes: number[] = [];
    const done = pollUntilReady(ctx, async (): Promise<ProbeOutcome> => {
      probes.push(performance.now());
      return up ? "ready" : "down";
    });
    await wait(1500); // well into the capped interval
    up = true;
    const t0 = performance.now();
    nudge();
    await done;
    expect(performance.now() - t0).toBeLessThan(50);
  });

  it("a nudge that arrives during a failing probe means: look again right away", async () => {
    const { ctx, nudge } = context();
    let calls = 0;
    let readyAt = 0;
    const t0 = performance.now();
    await pollUntilReady(ctx, async () => {
      calls++;
      if (calls < 12) return "down";
      if (calls === 12) {
        nudge(); // the app printed "listening" while this probe was failing
        return "down";
      }
      readyAt = performance.now();
      return "ready";
    });
    expect(calls).toBe(13);
    // 12 backoff sleeps would add up to ~700 ms; the nudged retry adds only ~5 ms.
    expect(readyAt - t0).toBeLessThan(900);
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
    const done = pollUntilReady(ctx, async () => "down");
    await wait(600);
    const t0 = performance.now();
    controller.abort(new Error("stop"));
    await expect(done).rejects.toThrow("stop");
    expect(performance.now() - t0).toBeLessThan(30);
    expect(listeners.size).toBe(0);
  });
});

import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { createWatchdog, lostNotifier } from "../../src/tunnel/watchdog.js";

describe("watchdog", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  test("a session down longer than the limit is lost, once, with the last reason", () => {
    const lost = vi.fn();
    const dog = createWatchdog(30_000, lost);
    dog.down("transport error");
    vi.advanceTimersByTime(10_000);
    dog.down("connection refused"); // a failed reconnect does not restart the clock
    vi.advanceTimersByTime(19_999);
    expect(lost).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(lost).toHaveBeenCalledTimes(1);
    expect(lost.mock.calls[0]?.[0]).toBe(
      "the ngrok session has been disconnected for more than 30 s (connection refused)",
    );
    dog.down("again");
    vi.advanceTimersByTime(60_000);
    expect(lost).toHaveBeenCalledTimes(1);
  });

  test("a heartbeat before the limit means the session came back", () => {
    const lost = vi.fn();
    const dog = createWatchdog(2_000, lost);
    dog.down("transport error");
    vi.advanceTimersByTime(1_500);
    dog.up();
    vi.advanceTimersByTime(10_000);
    expect(lost).not.toHaveBeenCalled();
    dog.down("second drop"); // a later outage gets the full limit again
    vi.advanceTimersByTime(1_999);
    expect(lost).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(lost.mock.calls[0]?.[0]).toContain("2.0 s");
  });

  test("after stop (the tunnel was closed) nothing fires", () => {
    const lost = vi.fn();
    const dog = createWatchdog(1_000, lost);
    dog.down("closing");
    dog.stop();
    dog.down("closed");
    vi.advanceTimersByTime(5_000);
    expect(lost).not.toHaveBeenCalled();
  });
});

describe("lost notifier", () => {
  test("fires each listener once, and a late listener still hears it", async () => {
    const lost = lostNotifier();
    const early = vi.fn();
    lost.listen(early);
    lost.fire("gone");
    lost.fire("gone twice");
    const late = vi.fn();
    lost.listen(late);
    await Promise.resolve();
    expect(early.mock.calls).toEqual([["gone"]]);
    expect(late.mock.calls).toEqual([["gone"]]);
  });
});

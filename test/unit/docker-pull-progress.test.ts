import { describe, expect, it } from "vitest";
import type { EngineEvent } from "../../src/docker/build-progress.js";
import { PULL_PROGRESS_INTERVAL_MS, PullProgress } from "../../src/docker/pull.js";

/** A pull as the engine reports it, with a clock the test moves. */
function pull() {
  const lines: string[] = [];
  let clock = 1_000_000;
  const progress = new PullProgress(
    (l) => lines.push(l),
    () => clock,
  );
  return {
    lines,
    progress,
    at(ms: number, ...events: EngineEvent[]) {
      clock = 1_000_000 + ms;
      for (const e of events) progress.push(e);
    },
  };
}

const downloading = (id: string, current: number, total: number): EngineEvent => ({
  status: "Downloading",
  id,
  progress: `[==>  ] ${current}/${total}`,
  progressDetail: { current, total },
});

describe("PullProgress", () => {
  it("logs layers done, bytes and rate at most once per interval, then the totals", () => {
    const p = pull();
    p.at(0, { status: "Pulling fs layer", id: "a" }, { status: "Pulling fs layer", id: "b" });
    p.at(0, { status: "Already exists", id: "c" });
    p.at(0, downloading("a", 10e6, 100e6), downloading("b", 5e6, 400e6));
    p.at(1000, downloading("a", 20e6, 100e6));
    expect(p.lines).toEqual([]); // nothing before the interval has passed
    p.at(PULL_PROGRESS_INTERVAL_MS, downloading("a", 100e6, 100e6), { status: "Download complete", id: "a" });
    p.at(PULL_PROGRESS_INTERVAL_MS + 10, downloading("b", 100e6, 400e6));
    expect(p.lines).toEqual(["Downloading: 0 of 2 layers done, 105.0 MB of 500.0 MB, 21.0 MB/s."]);
    p.at(2 * PULL_PROGRESS_INTERVAL_MS, downloading("b", 300e6, 400e6));
    expect(p.lines.at(-1)).toBe("Downloading: 1 of 2 layers done, 400.0 MB of 500.0 MB, 40.0 MB/s.");
    p.at(20_000, { status: "Download complete", id: "b" }, { status: "Pull complete", id: "b" });
    p.progress.end();
    expect(p.lines.at(-1)).toBe("Downloaded 500.0 MB in 2 layers (1 already present) in 20.0 s (25.0 MB/s).");
  });

  it("says nothing when no layer was downloaded", () => {
    const p = pull();
    p.at(0, { status: "Already exists", id: "a" }, { status: "Digest: sha256:abc" });
    p.progress.end();
    expect(p.lines).toEqual([]);
  });

  it("writes gigabytes for large pulls", () => {
    const p = pull();
    p.at(0, downloading("a", 1, 2.5e9));
    p.at(50_000, downloading("a", 2.5e9, 2.5e9), { status: "Pull complete", id: "a" });
    p.progress.end();
    expect(p.lines.at(-1)).toBe("Downloaded 2.50 GB in 1 layer in 50.0 s (50.0 MB/s).");
  });
});

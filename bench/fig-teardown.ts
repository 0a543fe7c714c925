import type Docker from "dockerode";
import { runPreview } from "../src/lifecycle/preview.js";
import { BENCH_LABEL } from "./app.js";
import { median, ms, spread } from "./stats.js";
import type { FigureResult } from "./table.js";
import { clockReporter, type PreviewWorld } from "./world.js";

const GOAL_MS = 2000;

interface Sample {
  comment: number;
  removed: number;
}

/**
 * Figure 6: runPreview with `duration: 2s`, the comment reporter and a tunnel through the loopback edge;
 * from `expiresAt` (as the live event states it) to when the emulator received the `expired` comment and
 * to when the engine destroyed the container (its own `destroy` event time).
 */
export async function teardown(
  docker: Docker,
  world: PreviewWorld,
  image: string,
  runs: number,
): Promise<FigureResult> {
  const destroyed = new Map<string, number>();
  const events = (await docker.getEvents({
    filters: { type: ["container"], event: ["destroy"], label: [BENCH_LABEL] },
  })) as NodeJS.ReadableStream & { destroy(): void };
  let pending = "";
  events.on("data", (chunk: Buffer) => {
    pending += chunk.toString("utf8");
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines.filter(Boolean)) {
      const e = JSON.parse(line) as { id: string; timeNano: number };
      destroyed.set(e.id, e.timeNano / 1e6);
    }
  });
  const samples: Sample[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const config = world.config({ image, env: "BENCH_STARTUP=0.2", duration: "2s" });
      let expiresAt: number | undefined;
      let containerId: string | undefined;
      const after = clockReporter(new Map(), async (event, details) => {
        if (event !== "live") return;
        expiresAt = details.expiresAt?.getTime();
        containerId = details.containerId;
      });
      const result = await runPreview(
        config,
        world.deps(docker, config, new AbortController().signal, { after }),
      );
      if (result.state !== "expired" || expiresAt === undefined || !containerId)
        throw new Error(
          `run ${i + 1} ended ${result.state}${result.details.error ? `: ${result.details.error}` : ""}`,
        );
      const comment = world.commentAt.get("expired");
      const gone = await waitFor(() => destroyed.get(containerId!));
      if (comment === undefined) throw new Error(`run ${i + 1}: no expired comment reached the emulator`);
      samples.push({ comment: comment - expiresAt, removed: gone - expiresAt });
    }
  } finally {
    events.destroy();
  }
  const worst = median(samples.map((s) => Math.max(s.comment, s.removed)));
  const comment = median(samples.map((s) => s.comment));
  const removed = median(samples.map((s) => s.removed));
  return {
    rows: [
      {
        figure: "teardown: expiry → comment says expired and container removed",
        measured: ms(worst),
        goal: `≤ ${ms(GOAL_MS)}`,
        met: worst <= GOAL_MS,
      },
      { figure: "  ↳ expiry → container destroyed (engine event)", measured: ms(removed), goal: "" },
      { figure: "  ↳ expiry → `expired` comment received", measured: ms(comment), goal: "" },
    ],
    notes: [
      `teardown: ${spread(samples.map((s) => Math.max(s.comment, s.removed)))}; the app stops on SIGTERM (an app that ignores it costs the 1 s stop grace more).`,
    ],
    misses:
      worst <= GOAL_MS
        ? []
        : [
            `teardown ${ms(worst)} > ${ms(GOAL_MS)} (container destroyed after ${ms(removed)}, comment after ${ms(comment)}).`,
          ],
  };
}

async function waitFor(fn: () => number | undefined, ms = 10_000): Promise<number> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error("the engine reported no destroy event for the container");
    await new Promise((r) => setTimeout(r, 20));
  }
}

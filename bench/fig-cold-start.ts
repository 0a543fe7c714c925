import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { median, ms, spread } from "./stats.js";
import type { FigureResult } from "./table.js";
import { removeTempDir, tempDir } from "./temp.js";

const GOAL_MS = 300;

/**
 * Figure 3: `node cli.js up <ctx> --tunnel none --json` with DOCKER_HOST on a fake engine (HTTP over a
 * unix socket) that notes when the first request arrives and answers 500; from just before spawn() to
 * that arrival. The CLI is bundled afresh from src/ (scripts/bundle.mjs into a temp dir) so the figure
 * is about the code as it is now; dist/ is used if that fails.
 */
export async function coldStart(runs: number): Promise<FigureResult> {
  const dir = tempDir("cold");
  const socket = join(dir, "engine.sock");
  const context = join(dir, "app");
  const notes: string[] = [];
  let arrival: number | undefined;
  let firstPath = "";
  const engine = createServer((req, res) => {
    if (arrival === undefined) {
      arrival = performance.now();
      firstPath = `${req.method} ${req.url}`;
    }
    res.writeHead(500, { "content-type": "application/json" });
    res.end(JSON.stringify({ message: "bench: not a real engine" }));
  });
  try {
    mkdirSync(context);
    writeFileSync(join(context, "Dockerfile"), "FROM scratch\n");
    const { cli, which } = freshCli(dir);
    notes.push(`cold start: ${which}.`);
    await new Promise<void>((resolve) => engine.listen(socket, resolve));
    const samples: number[] = [];
    for (let i = 0; i < runs; i++) {
      arrival = undefined;
      const t0 = performance.now();
      const child = spawn(process.execPath, [cli, "up", context, "--tunnel", "none", "--json"], {
        env: { ...process.env, DOCKER_HOST: `unix://${socket}`, NGROK_AUTHTOKEN: "" },
        stdio: "ignore",
      });
      await new Promise((resolve) => child.on("exit", resolve));
      if (arrival === undefined) throw new Error("the CLI exited without asking the engine anything");
      samples.push(arrival - t0);
    }
    const startup = median(samples);
    const node = await spawnTimes(["-e", "0"], runs);
    const load = await spawnTimes([cli, "--version"], runs);
    notes.push(
      `cold start: ${spread(samples)}; first request ${firstPath}. For scale: \`node -e 0\` exits after ${ms(node)}, \`cli.js --version\` (the CLI's code loaded, no Docker) after ${ms(load)}.`,
    );
    const misses =
      startup <= GOAL_MS
        ? []
        : [
            `cold start ${ms(startup)} > ${GOAL_MS} ms: node itself needs ~${ms(node)}, loading the CLI's code ${ms(load - node)} more, the way to the first request ${ms(startup - load)} (bench/README.md has the analysis).`,
          ];
    return {
      rows: [
        {
          figure: "cold start: process start → first Docker API request",
          measured: ms(startup),
          goal: `≤ ${GOAL_MS} ms`,
          met: startup <= GOAL_MS,
        },
      ],
      notes,
      misses,
    };
  } finally {
    engine.close();
    removeTempDir(dir);
  }
}

/** The CLI bundled from the current src/, or the committed dist/ when bundling fails. */
function freshCli(dir: string): { cli: string; which: string } {
  const out = join(dir, "dist");
  const result = spawnSync(process.execPath, ["scripts/bundle.mjs"], {
    env: { ...process.env, DIST_DIR: out },
    encoding: "utf8",
  });
  if (result.status === 0 && existsSync(join(out, "cli.js")))
    return { cli: join(out, "cli.js"), which: "CLI bundled from the current src/ by scripts/bundle.mjs" };
  return {
    cli: join(process.cwd(), "dist", "cli.js"),
    which: `bundling src/ failed (${(result.stderr || "").trim().split("\n")[0]}), so the committed dist/cli.js was measured`,
  };
}

/** Median wall time of `node <args>` from spawn to exit. */
async function spawnTimes(args: string[], runs: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const child = spawn(process.execPath, args, { stdio: "ignore" });
    await new Promise((resolve) => child.on("exit", resolve));
    times.push(performance.now() - t0);
  }
  return median(times);
}

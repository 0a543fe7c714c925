import { execFileSync, spawn } from "node:child_process";
import { readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { median, spread } from "./stats.js";
import type { FigureResult } from "./table.js";
import { removeTempDir, tempDir } from "./temp.js";

const GOAL_MS = 10_000;
const MB = 1024 * 1024;

/**
 * Issue 31: `npm install -g <tarball> --prefix <temp>` of this checkout's `npm pack`, as the README's
 * Install section has it, spawn → exit. --offline with an empty cache: the package has no dependencies, so
 * the time is npm's own work plus unpacking the bundle (the network would only add to what the user's
 * link costs). Each run installs into a fresh prefix.
 */
export async function install(runs: number): Promise<FigureResult> {
  const dir = tempDir("install");
  try {
    const tarball = execFileSync("npm", ["pack", "--silent", "--pack-destination", dir], {
      encoding: "utf8",
    }).trim();
    const samples: number[] = [];
    let bytes = 0;
    for (let i = 0; i < runs; i++) {
      const prefix = join(dir, `prefix-${i}`);
      const args = ["install", "-g", join(dir, tarball), "--prefix", prefix, "--offline"];
      args.push("--cache", join(dir, `cache-${i}`), "--no-audit", "--no-fund");
      const t0 = performance.now();
      const child = spawn("npm", args, { stdio: "ignore" });
      const code = await new Promise((resolve) => child.on("exit", resolve));
      if (code !== 0) throw new Error(`npm install -g ${tarball} exited with ${code}`);
      samples.push(performance.now() - t0);
      bytes = diskUsage(join(prefix, "lib", "node_modules"));
      rmSync(prefix, { recursive: true, force: true });
    }
    const took = median(samples);
    const seconds = (value: number) => `${(value / 1000).toFixed(1)} s`;
    return {
      rows: [
        {
          figure: "install: `npm install -g` of the packed package",
          measured: `${seconds(took)}, ${(bytes / MB).toFixed(0)} MB`,
          goal: `≤ ${seconds(GOAL_MS)}`,
          met: took <= GOAL_MS,
        },
      ],
      notes: [`install: ${spread(samples)}, each into a fresh prefix with an empty npm cache.`],
      misses: took <= GOAL_MS ? [] : [`install ${seconds(took)} > ${seconds(GOAL_MS)}.`],
    };
  } finally {
    removeTempDir(dir);
  }
}

/** Bytes of every file under `dir`. */
function diskUsage(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true }))
    if (entry.isFile()) total += statSync(join(entry.parentPath, entry.name)).size;
  return total;
}

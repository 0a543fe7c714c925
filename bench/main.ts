/**
 * `npm run bench` (bench/run.mjs bundles and runs this): the figures of issue 8, measured in one run on
 * this machine, printed as one Markdown table with each goal beside it. Benchmarks report, never fail:
 * a missed goal or a figure that could not be measured is explained under the table.
 * `npm run bench -- overhead teardown` runs only the named figures.
 * `npm run bench -- soak [minutes]` runs the soak instead (bench/soak.ts): not a figure, it takes 30 minutes.
 */
import { cpus } from "node:os";
import type Docker from "dockerode";
import { dockerClient } from "../src/docker/client.js";
import { buildListeningApp, removeBenchObjects } from "./app.js";
import { coldStart } from "./fig-cold-start.js";
import { install } from "./fig-install.js";
import { modelCache } from "./fig-model-cache.js";
import { toolOverhead } from "./fig-overhead.js";
import { readinessLag } from "./fig-readiness.js";
import { rebuild } from "./fig-rebuild.js";
import { teardown } from "./fig-teardown.js";
import { contextUpload } from "./fig-upload.js";
import { soak } from "./soak.js";
import { type FigureResult, type Row, renderTable } from "./table.js";
import { removeTempDirs } from "./temp.js";
import { PreviewWorld } from "./world.js";

interface Figure {
  readonly key: string;
  readonly title: string;
  readonly goal: string;
  readonly run: (env: BenchEnv) => Promise<FigureResult>;
}

interface BenchEnv {
  docker: Docker;
  image: () => string;
  world: () => Promise<PreviewWorld>;
}

const FIGURES: Figure[] = [
  {
    key: "overhead",
    title: "tool overhead: app first answers → URL posted in the comment",
    goal: "≤ 100 ms median",
    run: async (e) => toolOverhead(e.docker, await e.world(), e.image(), 7),
  },
  {
    key: "readiness",
    title: "readiness detection lag after the app first answers",
    goal: "≤ 50 ms median",
    run: (e) => readinessLag(e.docker, e.image(), 9),
  },
  {
    key: "cold-start",
    title: "cold start: process start → first Docker API request",
    goal: "≤ 300 ms",
    run: () => coldStart(15),
  },
  {
    key: "install",
    title: "install: `npm install -g` of the packed package",
    goal: "≤ 10 s",
    run: () => install(5),
  },
  {
    key: "upload",
    title: "build-context upload: ours / `docker build` CLI, and our peak RSS",
    goal: "ratio ≤ 1.0, RSS ≤ 150 MB",
    run: (e) => contextUpload(e.docker, 9),
  },
  {
    key: "rebuild",
    title: "rebuild of an unchanged app / cold build",
    goal: "≤ 10 %",
    run: (e) => rebuild(e.docker, 5, 3),
  },
  {
    key: "teardown",
    title: "teardown: expiry → comment says expired and container removed",
    goal: "≤ 2 s",
    run: async (e) => teardown(e.docker, await e.world(), e.image(), 5),
  },
  {
    key: "model-cache",
    title: "500 MB model at 50 MB/s: readiness with cache-dirs restored / without",
    goal: "≤ 25 %",
    run: (e) => modelCache(e.docker, Number(process.env.BENCH_PAIRS ?? 2)),
  },
];

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  if (wanted[0] === "soak") return soak(dockerClient(), Number(wanted[1] ?? 30));
  const figures = wanted.length ? FIGURES.filter((f) => wanted.includes(f.key)) : FIGURES;
  const docker = dockerClient();
  const version = (await docker.version()) as { Version?: string };
  let image: string | undefined;
  let world: PreviewWorld | undefined;
  const env: BenchEnv = {
    docker,
    image: () => (image ??= buildListeningApp()),
    world: async () => (world ??= await PreviewWorld.start()),
  };
  const rows: Row[] = [];
  const notes: string[] = [];
  const misses: string[] = [];
  const started = Date.now();
  const cleanup = async () => {
    await world?.close().catch(() => undefined);
    await removeBenchObjects(docker);
    removeTempDirs();
  };
  process.once("SIGINT", () => void cleanup().finally(() => process.exit(130)));
  try {
    for (const figure of figures) {
      const t0 = Date.now();
      process.stderr.write(`bench: ${figure.key}…`);
      try {
        const result = await figure.run(env);
        rows.push(...result.rows);
        notes.push(...result.notes);
        misses.push(...result.misses);
      } catch (err) {
        rows.push({ figure: figure.title, measured: "n/a", goal: figure.goal });
        misses.push(`${figure.key} could not be measured: ${(err as Error).message}`);
      }
      process.stderr.write(` ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
    }
  } finally {
    await cleanup();
  }
  if (world?.log.warnings.length) notes.push(`warnings from the previews: ${world.log.warnings.join(" | ")}`);

  const out = [
    `## ml-preview benchmarks`,
    "",
    `${new Date().toISOString()} · ${cpus().length} CPUs · node ${process.version} · dockerd ${version.Version ?? "?"} · ` +
      `${((Date.now() - started) / 60_000).toFixed(1)} min in all`,
    "",
    renderTable(rows),
    "",
    "How each figure was measured (bench/README.md has more):",
    ...notes.map((n) => `- ${n}`),
  ];
  if (misses.length) out.push("", "Why goals were missed:", ...misses.map((m) => `- ${m}`));
  process.stdout.write(`${out.join("\n")}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench: ${(err as Error)?.stack ?? err}\n`);
    process.exit(0);
  },
);

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type Docker from "dockerode";
import { removeCacheVolumes } from "../src/docker/volumes.js";
import { PreviewWorld as ActionWorld, pullRequestEvent } from "../test/support/preview-fixture.js";
import { ACTION_DIR, type RunningStep, runnerNode } from "../test/support/runner.js";
import { BENCH_RUN, benchLabels, buildBenchImage } from "./app.js";
import { median, ms, pct, spread, wallNow } from "./stats.js";
import type { FigureResult, Row } from "./table.js";

/** The model: 500 MB of random bytes (weights hardly compress), served at 50 MB/s. */
const MODEL_BYTES = 500e6;
const RATE_BYTES_PER_S = 50e6;
/** The window the save's cost is measured over: the live preview's first minute (from ready). */
const FIRST_MINUTE_MS = 60_000;
const CACHED_GOAL = 0.25;
const SAVE_COST_GOAL = 0.1;
/**
 * The previews' repository: the bench's own, not the e2e tests' octo-org/ml-app, whose previews other test
 * runs on a shared engine may stop or sweep.
 */
const REPO = "ml-preview/bench";

/**
 * The "model hub": node (scripts/node-base-image.sh) in a container of ours on the default bridge, serving
 * /model.bin paced to RATE_BYTES_PER_S (each 1 MiB chunk leaves when the clock says its first byte is due),
 * logging each request and how long it took.
 */
const HUB_JS = `
const http = require("node:http");
const size = Number(process.env.MODEL_BYTES), rate = Number(process.env.RATE);
const model = require("node:crypto").randomBytes(size);
http.createServer((req, res) => {
  if (req.url !== "/model.bin") { res.writeHead(404); return res.end(); }
  const t0 = Date.now();
  let sent = 0;
  res.writeHead(200, { "content-length": size });
  const next = () => {
    while (sent < size) {
      const wait = t0 + (sent / rate) * 1000 - Date.now();
      if (wait > 0) return void setTimeout(next, wait);
      const end = Math.min(sent + 1048576, size);
      const more = res.write(model.subarray(sent, end));
      sent = end;
      if (!more) return void res.once("drain", next);
    }
    res.end(() => console.log("served " + sent + " bytes in " + (Date.now() - t0) + " ms"));
  };
  next();
}).listen(8080, () => console.log("listening"));
`;

/**
 * The app: at start-up it downloads the model into /models unless it is there (busybox wget, as a
 * `from_pretrained` would), loads it (reads every byte with dd: busybox `cat` to /dev/null splices without
 * reading, and `wc -c` counts at ~60 MB/s), publishes its size at /model.txt, then serves.
 */
const APP_DOCKERFILE = [
  "FROM scratch",
  "COPY busybox /bin/busybox",
  'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
  "RUN mkdir -p /www /models && echo '<h1>ml-preview bench model app</h1>' > /www/index.html",
  "ENV MODEL_URL=unset",
  "EXPOSE 8080",
  `CMD ["/bin/sh", "-c", "trap 'exit 0' TERM; [ -f /models/model.bin ] || { wget -q -O /models/model.part \\"$MODEL_URL\\" && mv /models/model.part /models/model.bin; } && dd if=/models/model.bin of=/dev/null bs=1M 2>/dev/null && stat -c %s /models/model.bin > /www/model.txt && httpd -p 8080 -h /www; sleep 2147483647 & wait"]`,
].join("\n");

/**
 * Log lines that end each phase of a cached start, from the step's spawn to the app answering. The restore
 * starts while the image is prepared (here: found on the engine), so "Starting <image>" is no mark.
 */
const RESTORE_STEPS: [string, RegExp][] = [
  ["step start + lookup", /^cache-dirs: cache hit for/],
  ["download → zstd → engine, into the volume", /^cache-dirs: restored/],
  ["container started", /^Started container/],
  ["app answers", /^The app answers at/],
];

interface Run {
  /** Step spawned → the step logs that the app answers. */
  ready: number;
  /** The step logs that the app answers → it logs the URL live. */
  readyToLive: number;
  /** The app answers → `cache-dirs: saved` (undefined: nothing saved). */
  saveDone?: number;
  /** Requests the live app served through the tunnel from live until ready + FIRST_MINUTE_MS. */
  served: number;
  /** Median latency of those requests. */
  latency: number;
  /** Requests that failed (not counted as served). */
  failed: string[];
  /** Restore phases (cached runs), ms between the log lines of RESTORE_STEPS. */
  restore?: number[];
  log: string;
}

/**
 * Readiness of an app that downloads a 500 MB model at start-up, without and with cache-dirs restored from
 * the Actions cache, and what the save (after ready) costs the live preview's first minute; through the
 * bundled action (dist/main.js as the runner runs it), the Actions cache stand-in and the real engine.
 */
export async function modelCache(docker: Docker, pairs: number): Promise<FigureResult> {
  const hub = await ModelHub.start(docker);
  const service = await CacheServiceProcess.start();
  const app = buildBenchImage("model-app", APP_DOCKERFILE);
  const names: string[] = [];
  const cold: Run[] = [];
  const warm: Run[] = [];
  const warmHere: Run[] = [];
  let served: string[] = [];
  // The runner runs the Action on its own node (action.yml: node24); this machine's may be older.
  const node = runnerNode();
  try {
    for (let i = 0; i < pairs; i++) {
      // A name of its own per pair: a new key, so the first run misses, downloads and saves.
      const name = `bench-model-${randomBytes(3).toString("hex")}`;
      names.push(name);
      const before = await hub.requests();
      cold.push(await previewRun(service, { image: app, name, url: hub.url, node }));
      if ((await hub.requests()) !== before + 1)
        throw new Error("the uncached run did not download the model once");
      if (cold.at(-1)!.saveDone === undefined)
        throw new Error(`the uncached run saved nothing:\n${cold.at(-1)!.log}`);
      // A fresh runner: no volume, the cache entry the first run saved.
      await removeCacheVolumes(docker, { repo: REPO, name });
      warm.push(await previewRun(service, { image: app, name, url: hub.url, node }));
      // Once more on this machine's node (restores ask the zstd program there), readiness only.
      await removeCacheVolumes(docker, { repo: REPO, name });
      warmHere.push(await previewRun(service, { image: app, name, url: hub.url, window: false }));
      if ((await hub.requests()) !== before + 1) throw new Error("a cached run asked the model hub");
      for (const run of [warm.at(-1)!, warmHere.at(-1)!])
        if (!/cache-dirs: restored 1 volume/.test(run.log))
          throw new Error(`the cached run did not restore:\n${run.log}`);
    }
    served = await hub.servedLines();
  } finally {
    for (const name of names) await removeCacheVolumes(docker, { repo: REPO, name }).catch(() => undefined);
    await service.close();
    await hub.close();
  }
  return report(cold, warm, warmHere, served);
}

async function previewRun(
  service: CacheServiceProcess,
  app: { image: string; name: string; url: string; node?: string; window?: false },
): Promise<Run> {
  const world = await ActionWorld.start({ repo: REPO });
  const { job } = world.job(
    {
      image: app.image,
      name: app.name,
      "cache-dirs": "/models",
      env: `MODEL_URL=${app.url}`,
      "health-path": "/model.txt",
      duration: "10m",
    },
    {
      env: { ...service.env, GITHUB_REPOSITORY: REPO },
      event: JSON.parse(JSON.stringify(pullRequestEvent()).replaceAll("octo-org/ml-app", REPO)),
      node: app.node,
    },
  );
  const t0 = wallNow();
  const step = job.startMain();
  let stepped = false;
  try {
    const said = lineClock(step);
    const ended = step.done.then((r) => {
      throw new Error(`the step ended early (${r.code}):\n${r.stdout}\n${r.stderr}`);
    });
    ended.catch(() => undefined);
    const ready = await Promise.race([said.when(/The app answers at/), ended]);
    const url = await Promise.race([untilDefined(() => world.liveUrl()), ended]);
    const live = said.at(/Preview live:/) ?? wallNow();
    const window =
      app.window === false
        ? { served: 0, latency: Number.NaN, failed: [] }
        : await firstMinute(`${url}/model.txt`, ready + FIRST_MINUTE_MS);
    await job.cancel(step);
    stepped = true;
    await job.post();
    const saved = said.at(/cache-dirs: saved/);
    const marks = [t0, ...RESTORE_STEPS.map(([, re]) => said.at(re))];
    const restore = marks.every((m) => m !== undefined)
      ? marks.slice(1).map((m, i) => m! - marks[i]!)
      : undefined;
    if (process.env.BENCH_VERBOSE) process.stderr.write(`\n${said.timed(t0)}\n`);
    process.stderr.write(
      `\n  ready ${ms(ready - t0)}, live +${ms(live - ready)}, saved +${saved === undefined ? "-" : ms(saved - ready)}, served ${window.served} (median ${ms(window.latency)}), failed ${window.failed.length} ${window.failed.slice(0, 3).join(" | ")}`,
    );
    return {
      ready: ready - t0,
      readyToLive: live - ready,
      saveDone: saved === undefined ? undefined : saved - ready,
      restore,
      ...window,
      log: said.text(),
    };
  } finally {
    // A run that went wrong is cancelled as the runner would, so its container and volume can go.
    if (!stepped) await job.cancel(step).catch(() => undefined);
    await world.close();
  }
}

/** Back-to-back GETs through the public URL (one keep-alive connection) until `until`. */
async function firstMinute(
  url: string,
  until: number,
): Promise<{ served: number; latency: number; failed: string[] }> {
  const latencies: number[] = [];
  const failed: string[] = [];
  while (wallNow() < until) {
    const t = wallNow();
    try {
      const res = await fetch(url, { headers: { "ngrok-skip-browser-warning": "1" } });
      const body = await res.text();
      if (res.ok && body.trim() === String(MODEL_BYTES)) latencies.push(wallNow() - t);
      else failed.push(`${res.status} ${body.slice(0, 80)}`);
    } catch (err) {
      failed.push(String((err as Error).cause ?? err));
    }
  }
  return { served: latencies.length, latency: median(latencies), failed };
}

/** When each line of the step's log arrived (wall clock), for patterns asked now or later. */
function lineClock(step: RunningStep) {
  const lines: { at: number; text: string }[] = [];
  let pending = "";
  const waiters: { re: RegExp; resolve: (at: number) => void }[] = [];
  step.child.stdout?.on("data", (chunk: Buffer) => {
    const at = wallNow();
    pending += chunk.toString("utf8");
    const parts = pending.split("\n");
    pending = parts.pop() ?? "";
    for (const text of parts) {
      lines.push({ at, text });
      for (const w of waiters.filter((w) => w.re.test(text))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(at);
      }
    }
  });
  const at = (re: RegExp) => lines.find((l) => re.test(l.text))?.at;
  return {
    at,
    when: (re: RegExp) =>
      new Promise<number>((resolve) => {
        const seen = at(re);
        if (seen !== undefined) resolve(seen);
        else waiters.push({ re, resolve });
      }),
    text: () => lines.map((l) => l.text).join("\n"),
    timed: (t0: number) => lines.map((l) => `${((l.at - t0) / 1000).toFixed(2)} ${l.text}`).join("\n"),
  };
}

async function untilDefined<T>(fn: () => T | undefined, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error("the comment never showed the preview's URL");
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The Actions cache stand-in in a process of its own (bench/cache-service-child.ts). */
class CacheServiceProcess {
  private constructor(
    private readonly child: ChildProcess,
    readonly env: Record<string, string>,
  ) {}

  static async start(): Promise<CacheServiceProcess> {
    const entry = join(process.env.ML_PREVIEW_BENCH_DIR ?? ".", "cache-service-child.cjs");
    const child = spawn(process.execPath, [entry], { stdio: ["pipe", "pipe", "inherit"] });
    const lines = createInterface({ input: child.stdout! });
    const first = await new Promise<string>((resolve, reject) => {
      lines.once("line", resolve);
      child.once("exit", (code) => reject(new Error(`the cache service exited (${code})`)));
    });
    lines.close();
    return new CacheServiceProcess(child, JSON.parse(first) as Record<string, string>);
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once("exit", resolve));
    this.child.stdin?.end();
    await exited;
  }
}

class ModelHub {
  private constructor(
    private readonly container: Docker.Container,
    readonly url: string,
  ) {}

  static async start(docker: Docker): Promise<ModelHub> {
    const base = `ml-preview-bench/node-base:${BENCH_RUN}`;
    execFileSync("bash", [`${ACTION_DIR}/scripts/node-base-image.sh`, base], { stdio: "pipe" });
    let image: string;
    try {
      image = buildBenchImage("model-hub", [`FROM ${base}`, "COPY hub.js /hub.js"].join("\n"), {
        "hub.js": HUB_JS,
      });
    } finally {
      // The hub's image keeps the layers; the base's own tag goes at once.
      execFileSync("docker", ["rmi", base], { stdio: "ignore" });
    }
    const container = await docker.createContainer({
      Image: image,
      Cmd: ["node", "/hub.js"],
      Env: [`MODEL_BYTES=${MODEL_BYTES}`, `RATE=${RATE_BYTES_PER_S}`],
      Labels: { ...benchLabels("model-hub") },
    });
    await container.start();
    const hub = new ModelHub(container, "");
    for (let i = 0; !(await hub.logs()).includes("listening"); i++) {
      if (i > 600) throw new Error("the model hub did not start listening");
      await new Promise((r) => setTimeout(r, 50));
    }
    const address = (await container.inspect()).NetworkSettings.Networks.bridge?.IPAddress;
    if (!address) throw new Error("the model hub has no address on the default bridge");
    return new ModelHub(container, `http://${address}:8080/model.bin`);
  }

  private async logs(): Promise<string> {
    return (await this.container.logs({ stdout: true, stderr: true })).toString("latin1");
  }

  /** Downloads served (the server logs each once it has sent the last byte). */
  async requests(): Promise<number> {
    return (await this.logs()).split("served ").length - 1;
  }

  async servedLines(): Promise<string[]> {
    return (await this.logs()).match(/served \d+ bytes in \d+ ms/g) ?? [];
  }

  async close(): Promise<void> {
    await this.container.remove({ force: true }).catch(() => undefined);
  }
}

function report(cold: Run[], warm: Run[], warmHere: Run[], served: string[]): FigureResult {
  const coldReady = median(cold.map((r) => r.ready));
  const warmReady = median(warm.map((r) => r.ready));
  const ratio = warmReady / coldReady;
  const hereReady = median(warmHere.map((r) => r.ready));
  // The save's cost: requests the uncached run (saving) served in its first minute, against the cached
  // run (nothing to save), same app, same client.
  const cost = 1 - median(cold.map((r) => r.served)) / median(warm.map((r) => r.served));
  const rows: Row[] = [
    {
      figure: "500 MB model at 50 MB/s: readiness with cache-dirs restored / without (the runner's node24)",
      measured: `${pct(ratio)} (${ms(warmReady)} / ${ms(coldReady)})`,
      goal: `≤ ${pct(CACHED_GOAL)}`,
      met: ratio <= CACHED_GOAL,
    },
    {
      figure: `  ↳ restored, on this machine's node ${process.version} (zstd program): readiness / uncached above`,
      measured: `${pct(hereReady / coldReady)} (${ms(hereReady)})`,
      goal: "",
    },
    {
      figure: `  ↳ cached: ${RESTORE_STEPS.map(([what]) => what).join(" / ")}`,
      measured: RESTORE_STEPS.map((_, i) => ms(median(warm.map((r) => r.restore?.[i] ?? Number.NaN)))).join(
        " / ",
      ),
      goal: "",
    },
    {
      figure: "  ↳ save after ready: what it costs the first minute (requests served through the tunnel)",
      measured: pct(cost),
      goal: `≤ ${pct(SAVE_COST_GOAL)}`,
      met: cost <= SAVE_COST_GOAL,
    },
    {
      figure: "  ↳ ready → `cache-dirs: saved`",
      measured: ms(median(cold.map((r) => r.saveDone ?? Number.NaN))),
      goal: "",
    },
    {
      figure: "  ↳ ready → live: saving / nothing to save",
      measured: `${ms(median(cold.map((r) => r.readyToLive)))} / ${ms(median(warm.map((r) => r.readyToLive)))}`,
      goal: "",
    },
    {
      figure: "  ↳ median request latency in the first minute: saving / nothing to save",
      measured: `${ms(median(cold.map((r) => r.latency)))} / ${ms(median(warm.map((r) => r.latency)))}`,
      goal: "",
    },
  ];
  const notes = [
    `model cache (${cold.length} pair${cold.length === 1 ? "" : "s"}, uncached then cached): dist/main.js run as the runner runs it (test/support/runner.ts) on the runner's Node.js 24 (scripts/runner-node.sh; a third run per pair restores on this machine's ${process.version}), \`image:\` a local FROM-scratch busybox app, \`cache-dirs: /models\`, @actions/cache against the Actions cache stand-in (test/support/actions-cache) in a process of its own, as GitHub's service is out of the runner's. The app downloads 500 MB of random bytes with wget from a node server in a container of ours on the default bridge, paced to 50 MB/s (${served.join("; ")}), reads it all, then serves. Readiness: step spawned → the step logs "The app answers". Before each run the app's volume is removed (a fresh runner); the cached run restores the entry the uncached run saved, asks the model hub nothing, and has nothing to save. Readiness uncached ${spread(cold.map((r) => r.ready))}, cached ${spread(warm.map((r) => r.ready))}.`,
    `model cache, the save's cost: the save starts when the app answers and runs beside the live preview. From the live URL in the comment until ready + 60 s, a client GETs /model.txt back to back through the loopback ngrok edge (the path a reviewer's browser takes); cost = 1 − requests served while saving (uncached run) / requests served with nothing to save (cached run). A late "live" or a slower app both lower the count. Served: saving ${cold.map((r) => r.served).join(", ")}; nothing to save ${warm.map((r) => r.served).join(", ")}. Failed requests (not counted): saving ${cold.map((r) => r.failed.length).join(", ")}; nothing to save ${warm.map((r) => r.failed.length).join(", ")}${
      [...cold, ...warm].some((r) => r.failed.length > 0)
        ? ` (${[...cold, ...warm]
            .flatMap((r) => r.failed)
            .slice(0, 2)
            .join(" | ")})`
        : ""
    }.`,
  ];
  const misses: string[] = [];
  if (ratio > CACHED_GOAL)
    misses.push(
      `model cache: cached readiness ${ms(warmReady)} is ${pct(ratio)} of uncached ${ms(coldReady)} (goal ${pct(CACHED_GOAL)}).`,
    );
  if (cost > SAVE_COST_GOAL)
    misses.push(
      `model cache: the save cost the first minute ${pct(cost)} of its requests (goal ${pct(SAVE_COST_GOAL)}).`,
    );
  return { rows, notes, misses };
}

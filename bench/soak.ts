/**
 * `npm run bench -- soak [minutes]` (default 30): one long preview through the bundled action, as the runner
 * runs it (test/support/runner.ts: dist/main.js with INPUT_* and the event file, the GitHub emulator, the
 * loopback ngrok edge, a FROM-scratch busybox httpd app), with 1 s polls and a visitor on the public link
 * every 2 s. Every ~30 s it looks at the action's process in /proc: open fds, sockets, TCP sockets, those in
 * CLOSE-WAIT, RSS. It prints the samples as a table and a verdict on whether they stayed flat.
 *
 * Flat: over the last window (5 min, or a quarter of a shorter run) no figure's largest sample exceeds its
 * largest sample in the first window (from live on) by more than its slack: fds +4, sockets +3, TCP +3,
 * CLOSE-WAIT +2, RSS +15 % (node's heap settles after its first minutes). A leak of one socket per few
 * polls breaks that within minutes (the CLOSE-WAIT bug of issue 19 left 46 in 10 min).
 */
import type Docker from "dockerode";
import { fetchText, PreviewWorld, waitFor } from "../test/support/preview-fixture.js";
import { type ProcessSample, processSample } from "../test/support/process-sample.js";

interface Sample extends ProcessSample {
  /** Seconds since the preview went live. */
  readonly at: number;
  /** Polls so far (each GETs the PR, the public link and the app). */
  readonly polls: number;
}

const FIGURES = ["fds", "sockets", "tcp", "closeWait"] as const;
const SLACK: Record<(typeof FIGURES)[number], number> = { fds: 4, sockets: 3, tcp: 3, closeWait: 2 };
const RSS_SLACK = 0.15;

export async function soak(docker: Docker, minutes: number): Promise<void> {
  const say = (m: string) => process.stderr.write(`soak: ${m}\n`);
  const world = await PreviewWorld.start();
  // 1 s polls spend ~2 requests a second: a GITHUB_TOKEN's 1000 an hour (the emulator's budget) would be
  // gone in 9 minutes, and the preview would sit out the rate limit instead of being soaked. Lifted here.
  world.github.setRateLimitRemaining(1_000_000_000);
  // Its own name (container, image tag) beside the e2e suites other worktrees may run on the same engine.
  const run = world.job(
    { duration: `${minutes}m`, name: "soak" },
    { env: { ML_PREVIEW_POLL_INTERVAL: "1s" } },
  );
  const main = run.job.startMain();
  let said = "";
  main.child.stdout?.on("data", (d) => (said = (said + d).slice(-4000)));
  let ended = false;
  const done = main.done.finally(() => (ended = true));
  const stop = () => void run.job.cancel(main);
  process.once("SIGINT", stop);
  try {
    await waitFor("live", () => ended || world.commentStateIs("live")(), 5 * 60_000);
    if (ended) throw new Error(`the action ended before it was live; it said:\n${said}`);
    const url = world.liveUrl();
    if (!url) throw new Error("the live comment carries no link");
    say(`live at ${url}; sampling pid ${main.child.pid} for ${minutes} min`);
    const visits = visitor(url, () => ended);
    const samples = await sampleUntil(main.child.pid!, world, () => ended, Math.min(30_000, minutes * 3000));
    const result = await done;
    const { ok, failed } = await visits;
    const cleanupCheck = await docker.listContainers({ all: true, filters: { label: [run.label] } });
    const out = [
      `## soak: ${minutes}-minute preview, 1 s polls, a visitor every 2 s`,
      "",
      `${new Date().toISOString()} · action pid ${main.child.pid} · ended ${result.outputs.status ?? "?"} (exit ${result.code})` +
        ` · ${samples.at(-1)?.polls ?? 0} polls · visits ${ok} answered, ${failed} failed · containers left: ${cleanupCheck.length}`,
      "",
      renderSamples(samples),
      "",
      verdict(samples),
    ];
    const notes = result.stdout.split("\n").filter((l) => /^::(warning|error)::/.test(l));
    if (notes.length) out.push("", "Warnings and errors from the action:", ...notes.map((w) => `- ${w}`));
    if (result.outputs.status !== "expired")
      out.push(
        "",
        "The preview did not run its course; the action's last lines:",
        "```",
        ...result.stdout.split("\n").slice(-40),
        "```",
      );
    process.stdout.write(`${out.join("\n")}\n`);
    for (const c of cleanupCheck) await docker.getContainer(c.Id).remove({ force: true });
  } finally {
    process.off("SIGINT", stop);
    if (!ended) await run.job.cancel(main);
    await world.close();
  }
}

/** GETs the public link every 2 s until the preview ends; counts what answered 200. */
async function visitor(url: string, over: () => boolean): Promise<{ ok: number; failed: number }> {
  let ok = 0;
  let failed = 0;
  while (!over()) {
    const status = await fetchText(url).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) ok++;
    else if (!over()) failed++;
    await new Promise((r) => setTimeout(r, 2000));
  }
  return { ok, failed };
}

async function sampleUntil(
  pid: number,
  world: PreviewWorld,
  over: () => boolean,
  everyMs: number,
): Promise<Sample[]> {
  const t0 = Date.now();
  const polls = () =>
    world.github.requests.filter((r) => r.method === "GET" && /\/pulls\/\d+$/.test(r.path)).length;
  const samples: Sample[] = [];
  for (;;) {
    try {
      samples.push({ at: (Date.now() - t0) / 1000, polls: polls(), ...processSample(pid) });
    } catch {
      break; // the process is gone
    }
    const next = Date.now() + everyMs;
    while (!over() && Date.now() < next) await new Promise((r) => setTimeout(r, 200));
    if (over()) break;
  }
  return samples;
}

function renderSamples(samples: readonly Sample[]): string {
  const head = "| t (min) | polls | fds | sockets | TCP | CLOSE-WAIT | RSS (MB) |";
  const rows = samples.map(
    (s) =>
      `| ${(s.at / 60).toFixed(1)} | ${s.polls} | ${s.fds} | ${s.sockets} | ${s.tcp} | ${s.closeWait} | ${(s.rss / 2 ** 20).toFixed(1)} |`,
  );
  return [head, "|---|---|---|---|---|---|---|", ...rows].join("\n");
}

/** The definition in the header comment: last window's max ≤ first window's max + slack, for each figure. */
export function verdict(samples: readonly Sample[]): string {
  if (samples.length < 4) return "verdict: too few samples to judge";
  const span = samples.at(-1)!.at;
  const window = Math.min(300, span / 4);
  const first = samples.filter((s) => s.at <= window);
  const last = samples.filter((s) => s.at >= span - window);
  const max = (xs: readonly Sample[], f: (s: Sample) => number) => Math.max(...xs.map(f));
  const grew: string[] = [];
  for (const f of FIGURES) {
    const [a, b] = [max(first, (s) => s[f]), max(last, (s) => s[f])];
    if (b > a + SLACK[f]) grew.push(`${f} ${a} → ${b} (slack ${SLACK[f]})`);
  }
  const [ra, rb] = [max(first, (s) => s.rss), max(last, (s) => s.rss)];
  if (rb > ra * (1 + RSS_SLACK)) grew.push(`RSS ${mb(ra)} → ${mb(rb)} MB (slack ${RSS_SLACK * 100} %)`);
  const windowText = `first ${(window / 60).toFixed(1)} min vs last ${(window / 60).toFixed(1)} min`;
  return grew.length
    ? `verdict: GROWS (${windowText}): ${grew.join("; ")}`
    : `verdict: flat (${windowText}: fds ${max(first, (s) => s.fds)} → ${max(last, (s) => s.fds)}, ` +
        `TCP ${max(first, (s) => s.tcp)} → ${max(last, (s) => s.tcp)}, CLOSE-WAIT ≤ ${max(last, (s) => s.closeWait)}, ` +
        `RSS ${mb(ra)} → ${mb(rb)} MB)`;
}

const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

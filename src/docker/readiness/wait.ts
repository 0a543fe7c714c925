import type Docker from "dockerode";
import { PreviewError } from "../../errors.js";
import type { ContainerExit } from "../../lifecycle/types.js";
import { type Logger, silentLogger } from "../../log.js";
import { describeExit } from "../exit.js";
import { withoutInjectedEnv } from "../framework.js";
import type { AppContainer } from "../types.js";
import { watchListen } from "./diagnose.js";
import { type ContainerFacts, dockerHealthStrategy, type ReadinessPlan, readinessPlan } from "./framework.js";
import { httpStrategy } from "./http.js";
import type { ReadinessContext, ReadinessStrategy } from "./types.js";

/** Log lines attached to a readiness failure. */
const FAILURE_LOG_LINES = 50;
/** How often the log says what is awaited and for how long already. */
const PROGRESS_EVERY_MS = 5000;

export interface WaitOptions {
  /** The `health-path` input; undefined = framework-aware default. */
  readonly healthPath?: string;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  /** Replace the default plan (HTTP, plus the image's HEALTHCHECK when it has one). */
  readonly strategies?: readonly ReadinessStrategy[];
  /** Where the wait is shown: what is awaited, the elapsed time, and the app's own lines as it starts. */
  readonly log?: Logger;
  readonly progressEveryMs?: number;
}

type Outcome =
  | { kind: "ready"; strategy: string }
  | { kind: "exited"; exit: ContainerExit }
  | { kind: "timeout" }
  | { kind: "aborted" };

/**
 * Waits until one strategy says the app is ready. Ends at once, with a PreviewError(step "ready") that
 * carries the last log lines, when the container exits (with its exit code), when `timeoutMs` passes, or
 * when `signal` aborts.
 */
export async function waitUntilReady(
  docker: Docker,
  app: AppContainer,
  opts: WaitOptions,
): Promise<{ strategy: string; ms: number }> {
  const log = opts.log ?? silentLogger;
  const facts = await containerFacts(docker, app.id);
  const plan = readinessPlan(facts, opts.healthPath);
  const title = `Waiting up to ${formatMs(opts.timeoutMs)} for GET ${plan.httpPath} to answer on container port ${app.containerPort} (${app.localUrl})`;
  return log.group(title, () => race(docker, app, opts, log, { facts, plan }));
}

async function race(
  docker: Docker,
  app: AppContainer,
  opts: WaitOptions,
  log: Logger,
  known: { facts?: ContainerFacts; plan: ReadinessPlan },
): Promise<{ strategy: string; ms: number }> {
  const started = performance.now();
  const stop = new AbortController();
  const notes = new Map<string, string>();
  const cleanups: (() => void)[] = [];
  const settle = <T>(fn: (resolve: (outcome: Outcome) => void) => T) =>
    new Promise<Outcome>((resolve) => fn(resolve));

  const context = (strategy: string): ReadinessContext => ({
    signal: stop.signal,
    onNudge: (listener) => app.onLogLine?.(() => listener()) ?? (() => undefined),
    // Once the race is over, what aborted probes say is noise.
    note: (text) => {
      if (!stop.signal.aborted) notes.set(strategy, text);
    },
  });
  const listen = watchListen(docker, app, {
    launch: known.facts,
    exposed: exposedOf(known.facts),
    path: known.plan.httpPath,
    signal: stop.signal,
  });
  cleanups.push(
    showProgress(app, log, opts.progressEveryMs ?? PROGRESS_EVERY_MS, started, () => [
      ...notes.values(),
      ...[listen.hint()].filter((h): h is string => h !== undefined),
    ]),
  );

  const strategies = opts.strategies ?? defaultStrategies(docker, app, known.plan);
  const ready = Promise.any(strategies.map((s) => s.until(context(s.name)).then(() => s.name))).then(
    (name): Outcome => ({ kind: "ready", strategy: name }),
  );
  // When the race is over the losers reject (aborted) or never settle: keep that from surfacing.
  ready.catch(() => undefined);

  const outcome = await Promise.race<Outcome>([
    ready,
    listen.diagnosed,
    app.exited.then((exit) => ({ kind: "exited", exit })),
    settle((resolve) => {
      const timer = setTimeout(() => resolve({ kind: "timeout" }), opts.timeoutMs);
      cleanups.push(() => clearTimeout(timer));
    }),
    settle((resolve) => {
      const signal = opts.signal;
      if (!signal) return;
      const onAbort = () => resolve({ kind: "aborted" });
      if (signal.aborted) return onAbort();
      signal.addEventListener("abort", onAbort, { once: true });
      cleanups.push(() => signal.removeEventListener("abort", onAbort));
    }),
  ])
    .catch(async (err: unknown): Promise<never> => {
      throw await readinessError(err, app);
    })
    .finally(() => {
      stop.abort();
      for (const cleanup of cleanups) cleanup();
    });

  if (outcome.kind === "ready") {
    const ms = Math.round(performance.now() - started);
    log.info(`The app answered after ${formatMs(ms)} (${outcome.strategy}).`);
    return { strategy: outcome.strategy, ms };
  }
  throw await failure(outcome, app, opts, [
    ...notes.values(),
    ...[listen.hint()].filter(Boolean),
  ] as string[]);
}

/**
 * While waiting: the app's own lines as they come (a model loading for two minutes is not silence), and
 * every few seconds how long it has been and what the probe sees. Returns the function that ends both.
 */
function showProgress(
  app: AppContainer,
  log: Logger,
  everyMs: number,
  started: number,
  notes: () => string[],
): () => void {
  const show = (line: string) => log.info(`  app | ${line}`);
  const unsubscribe = app.onLogLine?.(show);
  void app.tail(FAILURE_LOG_LINES).then((lines) => lines.forEach(show));
  const timer = setInterval(() => {
    const seen = notes();
    log.info(
      `… still waiting (${formatMs(performance.now() - started)})${seen.length ? `: ${seen.join("; ")}` : ""}`,
    );
  }, everyMs);
  return () => {
    clearInterval(timer);
    unsubscribe?.();
  };
}

async function containerFacts(docker: Docker, id: string): Promise<ContainerFacts | undefined> {
  const info = await docker
    .getContainer(id)
    .inspect()
    .catch(() => undefined);
  if (!info) return undefined;
  // The container's env holds what the tool set by itself (GRADIO_SERVER_NAME): the image's env tells it apart.
  const image = await docker
    .getImage(info.Image)
    .inspect()
    .catch(() => undefined);
  return {
    entrypoint: info.Config.Entrypoint,
    cmd: info.Config.Cmd,
    env: withoutInjectedEnv(info.Config.Env, image?.Config?.Env),
    healthcheck: info.Config.Healthcheck,
    exposedPorts: info.Config.ExposedPorts,
  };
}

function exposedOf(facts: ContainerFacts | undefined): number[] {
  return Object.keys(facts?.exposedPorts ?? {})
    .map((k) => Number.parseInt(k, 10))
    .filter((p) => p > 0);
}

/** A diagnosis (with the app's last lines), or every strategy failing outright: a broken probe, not a slow app. */
async function readinessError(err: unknown, app: AppContainer): Promise<PreviewError> {
  if (err instanceof PreviewError) {
    const logLines = await app.tail(FAILURE_LOG_LINES).catch(() => []);
    return new PreviewError(err.step, err.message, { code: err.code, logLines });
  }
  return new PreviewError("ready", `Could not check whether the app is ready: ${(err as Error).message}`, {
    code: "READY_CHECK_FAILED",
    cause: err,
  });
}

function defaultStrategies(docker: Docker, app: AppContainer, plan: ReadinessPlan): ReadinessStrategy[] {
  const strategies = [httpStrategy({ baseUrl: app.localUrl, path: plan.httpPath })];
  return plan.dockerHealth ? [...strategies, dockerHealthStrategy(docker, app.id)] : strategies;
}

async function failure(
  outcome: Exclude<Outcome, { kind: "ready" }>,
  app: AppContainer,
  opts: WaitOptions,
  notes: string[],
): Promise<PreviewError> {
  const logLines = await app.tail(FAILURE_LOG_LINES).catch(() => []);
  switch (outcome.kind) {
    case "exited":
      return new PreviewError(
        "ready",
        `The app ${describeExit(outcome.exit)} before it was ready. Its last log lines show why.`,
        { exitCode: outcome.exit.exitCode, logLines, code: "APP_EXITED" },
      );
    case "timeout":
      return new PreviewError(
        "ready",
        `The app was not ready after ${formatMs(opts.timeoutMs)}${notes.length ? `: ${notes.join("; ")}` : ""}. ` +
          `If it needs longer, raise \`ready-timeout\`; if it serves another path or port, set \`health-path\` or \`port\` ` +
          `(now container port ${app.containerPort}).`,
        { logLines, code: "READY_TIMEOUT" },
      );
    case "aborted":
      return new PreviewError("ready", "Stopped waiting for the app: the preview was cancelled.", {
        logLines,
        code: "CANCELLED",
        cause: opts.signal?.reason,
      });
  }
}

function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${Math.round(ms / 100) / 10} s`;
  return `${Math.round(ms / 6000) / 10} min`;
}

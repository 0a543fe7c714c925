import type Docker from "dockerode";
import type { PreviewConfig } from "./config/types.js";
import { engineAddress } from "./docker/docker-errors.js";
import { prepareImage, removeEndedRuns, startContainer, waitUntilReady } from "./docker/index.js";
import type {
  AppContainer,
  ContainerExit,
  EnginePatience,
  PreparedImage,
  PreviewLabels,
} from "./docker/types.js";
import { PreviewError, type PreviewStep } from "./errors.js";
import type { StateDetails } from "./github/types.js";
import { httpAnswer } from "./http.js";
import { CacheDirs, type CacheStore } from "./lifecycle/cache-dirs.js";
import { CleanupStack } from "./lifecycle/cleanup.js";
import { EarlyTunnel } from "./lifecycle/early-tunnel.js";
import {
  type HoldEnd,
  type HoldWatch,
  holdUntilEnd,
  PR_CLOSED,
  stopReason,
  watchPullRequest,
} from "./lifecycle/hold.js";
import { previewExpiry } from "./lifecycle/poll.js";
import type { PreviewEvent, PreviewEventName, Reporter } from "./lifecycle/reporter.js";
import { waitForLocalApp } from "./lifecycle/share.js";
import type { Logger } from "./log.js";
import { checkLink, openTunnel, verifyTunnel } from "./tunnel/index.js";
import { protectionNames } from "./tunnel/protection-rules.js";
import type { Tunnel, TunnelMetadata } from "./tunnel/types.js";

export interface PreviewDeps {
  readonly docker?: Docker;
  readonly log: Logger;
  readonly reporters: readonly Reporter[];
  /** Aborted on SIGINT/SIGTERM (the reason becomes the `stopped` text). */
  readonly signal: AbortSignal;
  readonly labels: PreviewLabels;
  readonly metadata: TunnelMetadata;
  readonly commit?: string;
  readonly pollIntervalMs: number;
  /** Polled while live; the signal ends a request still in flight when the preview ends. */
  readonly prOpen?: (signal: AbortSignal) => Promise<boolean>;
  readonly superseded?: (signal: AbortSignal) => Promise<boolean>;
  /**
   * Is the run a leftover container names (`RUN_ID.ATTEMPT`) over? Asked only where its holder process
   * cannot be looked at (another machine sharing the engine): the Action asks the Actions API.
   */
  readonly runOver?: (run: string) => Promise<boolean>;
  /** A PR command's request to the live preview (`/preview stop`, `/preview extend`), read after each poll. */
  readonly request?: HoldWatch["request"];
  /** How long the hold may last at most (the job running it ends then): `/preview extend` stops there. */
  readonly holdLimit?: Date;
  /** Called with ids as soon as they exist, so a crash can still be cleaned up (the Action's post step). */
  readonly onResource?: (kind: "container" | "image", id: string) => void;
  readonly watchdogMs?: number;
  readonly collisionRetryMs?: number;
  /** How long clean-up keeps trying while the engine does not answer (default CLEANUP_PATIENCE_MS). */
  readonly cleanupPatienceMs?: number;
  /** The Actions cache behind `cache-dirs` (the Action); without it the volumes persist on this machine only. */
  readonly cacheStore?: CacheStore;
  readonly cacheBudgetBytes?: number;
}

/** How long the lifecycle's clean-up waits for an engine that does not answer (the post step tries again). */
export const CLEANUP_PATIENCE_MS = 2 * 60_000;
const CANCEL_PATIENCE_MS = 5000;

/** A fresh tunnel that held this long was a success: a later loss is a new incident, not "lost again". */
const TUNNEL_HEALTHY_MS = 10 * 60_000;

export interface PreviewResult {
  readonly state: "expired" | "stopped" | "superseded" | "failed";
  readonly details: StateDetails;
}

/**
 * The preview from start to guaranteed end:
 * build or pull → run → wait ready (the tunnel opening meanwhile) → check the URL answers → live → hold →
 * clean up → report.
 * A failure at any step still runs every cleanup after it, and the final report says which step failed.
 */
export async function runPreview(config: PreviewConfig, deps: PreviewDeps): Promise<PreviewResult> {
  const { log } = deps;
  // The runner's cancel, or the PR closing before live: either ends the preview as `stopped`.
  const closed = new AbortController();
  const signal = AbortSignal.any([deps.signal, closed.signal]);
  const prOpen = config.stopOnClose ? deps.prOpen : undefined;
  const onPollError = (err: unknown) =>
    log.warning(`Could not check the pull request: ${(err as Error).message}`);
  /** Asked before a public tunnel opens: a closed PR never gets one. */
  const openPublic = async (port: number, s: AbortSignal) => {
    const stillOpen = await prOpen?.(s).catch((err: unknown) => {
      onPollError(err);
      return true;
    });
    if (stillOpen === false) closed.abort(PR_CLOSED);
    checkStop(signal, false);
    return open(config, port, deps, s);
  };
  let stopPrWatch = () => {};
  const cleanup = new CleanupStack(log);
  const phases: Record<string, number> = {};
  const startedAt = new Date();
  let step: PreviewStep = "build";
  let image: PreparedImage | undefined;
  let app: AppContainer | undefined;
  let tunnel: Tunnel | undefined;
  let live: StateDetails = {};
  let superseded = false;
  let silenceReported = Promise.resolve();

  // Reporters run in order: the comment first (its latency is what reviewers wait for), the event file
  // a detached holder's parent follows last, so whoever reads that file finds the comment already updated.
  const emit = async (event: PreviewEventName, details: StateDetails) => {
    for (const r of deps.reporters)
      if ((await safeReport(r, { event, details }, log)) === "superseded") superseded = true;
  };
  const timed = async <T>(name: PreviewStep, fn: () => Promise<T>): Promise<T> => {
    step = name;
    checkStop(signal, superseded);
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      phases[name] = Math.round(performance.now() - t0);
    }
  };

  let end: HoldEnd | { state: "failed"; step: PreviewStep; error: unknown };
  try {
    const source = config.source;
    // `share` builds nothing: its first event is `ready`, once the app on this machine answers.
    // Ask the engine while the "building" comment is being written: neither waits for the other.
    const engine =
      source.kind === "share"
        ? undefined
        : engineAnswers(deps.docker!, source.kind === "build" ? "build" : "pull")
            .then(() => removeLeftBehind(deps))
            .catch((err: unknown) => err);
    if (source.kind !== "share") await emit("building", { commit: deps.commit, startedAt });
    if (prOpen)
      stopPrWatch = watchPullRequest(
        () => prOpen(signal),
        deps.pollIntervalMs,
        () => closed.abort(PR_CLOSED),
        onPollError,
      );
    let localUrl: string;
    let early: EarlyTunnel;
    if (source.kind === "share") {
      localUrl = `http://127.0.0.1:${source.port}`;
      early = new EarlyTunnel((s) => openPublic(source.port, s), signal, cleanup);
      await timed("ready", () =>
        early.alongside(signal, (s) => waitForLocalApp(localUrl, config.readyTimeoutMs, s, log)),
      );
    } else {
      const docker = deps.docker!;
      await timed(source.kind === "build" ? "build" : "pull", async () => {
        const problem = await engine;
        if (problem) throw problem;
      });
      image = await timed(source.kind === "build" ? "build" : "pull", () =>
        prepareImage(docker, source, deps.labels, log, { signal }),
      );
      deps.onResource?.("image", image.imageId);
      await emit("starting", { commit: deps.commit, image: image.ref });
      const cacheDirs = new CacheDirs(config, {
        ...deps,
        docker,
        store: deps.cacheStore,
        budgetBytes: deps.cacheBudgetBytes,
      });
      // The restore counts into "run": it is part of what the app waits for before it starts.
      const started = await timed("run", async () => {
        const volumes = await cacheDirs.mount(image!);
        return startContainer(docker, image!, { ...config, volumes }, deps.labels, log);
      });
      app = started;
      cleanup.push("remove the container", () => started.remove(removalPatience(started.id, deps)));
      deps.onResource?.("container", started.id);
      // The host port is known: the tunnel opens while the app starts (see EarlyTunnel).
      early = new EarlyTunnel((s) => openPublic(started.hostPort, s), signal, cleanup);
      await timed("ready", () =>
        early.alongside(signal, (s) =>
          waitUntilReady(docker, started, {
            healthPath: config.healthPath,
            timeoutMs: config.readyTimeoutMs,
            signal: s,
            log,
          }),
        ),
      );
      localUrl = started.localUrl;
      // Start-up downloads are done: save while the preview goes live; clean-up waits for it (a cancel too).
      const saving = cacheDirs.save(image);
      cleanup.push("save the cache dirs", () => saving);
    }
    await emit("ready", { localUrl, containerId: app?.id, phases: { ...phases } });

    // Phases are what each step added to the wait: "tunnel" is only what is left of opening it once ready.
    tunnel = await timed("tunnel", () => early.tunnel());
    if (tunnel.url) {
      const url = tunnel.url;
      await timed("verify", () => verifyTunnel(url, protectionOf(config), { signal }));
    }
    checkStop(signal, superseded);

    const expiresAt = previewExpiry(Date.now(), config.durationMs, deps.holdLimit);
    live = {
      url: tunnel.url,
      localUrl,
      expiresAt,
      image: image?.ref,
      imageId: image?.imageId,
      buildCache: buildCacheOf(image),
      containerId: app?.id,
      commit: deps.commit,
    };
    stopPrWatch(); // from here the hold polls the PR
    step = "live";
    await emitLive();

    checkStop(signal, superseded);
    end = await holdLive();
  } catch (error) {
    end = { state: "failed", step, error };
  }
  stopPrWatch();

  await silenceReported; // a `live` note still being written must not land after the final state
  // Fetch the app's last words before its container is removed.
  const final = finalState(end, signal, superseded);
  const failure = final === "failed" && end.state === "failed" ? await describeFailure(end, app) : undefined;
  await cleanup.run();

  const details: StateDetails = {
    ...live,
    at: new Date(),
    phases,
    reason: "reason" in end ? end.reason : final === "stopped" ? stopReason(signal) : undefined,
    ...failure,
  };
  await emit(final, details);
  return { state: final, details };

  /**
   * Hold until something ends the preview. A lost tunnel gets a fresh session; losing that one too within
   * TUNNEL_HEALTHY_MS fails the preview (something is wrong beyond a blip), while two incidents hours apart
   * in a long preview each get their fresh session.
   */
  async function holdLive(): Promise<HoldEnd> {
    let freshAt: number | undefined;
    for (;;) {
      const current = tunnel!;
      const result = await holdUntilEnd({
        expiresAt: live.expiresAt!,
        jobLimit: deps.holdLimit,
        signal,
        exited: app ? app.exited : new Promise<ContainerExit>(() => {}),
        tunnelLost: new Promise<string>((resolve) => current.onLost(resolve)),
        pollIntervalMs: deps.pollIntervalMs,
        prOpen,
        superseded: deps.superseded,
        request: deps.request,
        linkUp: current.url
          ? (done) => checkLink(current.url!, protectionOf(config), AbortSignal.any([signal, done]))
          : undefined,
        linkGraceMs: deps.watchdogMs ?? 30_000,
        appAnswers: live.localUrl
          ? (s) => appAnswers(new URL(config.healthPath ?? "/", live.localUrl), deps.pollIntervalMs, s)
          : undefined,
        onAppSilence: (since, why) => {
          if (since)
            log.warning(`The app does not answer on its port since ${since.toISOString()} (${why}).`);
          else log.info("The app answers again.");
          silenceReported = silenceReported.then(() =>
            emitLive({ notAnsweringSince: since, notAnsweringWhy: why }),
          );
        },
        onPollError,
      });
      if (result.state === "extend") {
        await extend(result);
        continue;
      }
      if (result.state !== "tunnel-lost") return result;
      if (freshAt !== undefined && Date.now() - freshAt < TUNNEL_HEALTHY_MS)
        return { state: "failed", step: "live", reason: `the tunnel was lost again: ${result.reason}` };
      freshAt = Date.now();
      log.warning(`The tunnel was lost (${result.reason}); opening a fresh session.`);
      await current.close().catch(() => {});
      tunnel = await open(config, live.localUrl ? Number(new URL(live.localUrl).port) : 0, deps);
      cleanup.push("close the tunnel", () => tunnel!.close());
      if (tunnel.url) await verifyTunnel(tunnel.url, protectionOf(config), { signal });
      live = { ...live, url: tunnel.url };
      await emitLive();
    }
  }

  function emitLive(extra: StateDetails = {}): Promise<void> {
    return emit("live", {
      ...live,
      phases: { ...phases },
      qrCode: config.github.qrCode,
      protected: protectionOfLive(config),
      ...extra,
    });
  }

  /** `/preview extend`: the expiry moves, but never past the end of the job holding the preview. */
  async function extend(request: { ms: number; by: string }): Promise<void> {
    const from = live.expiresAt!.getTime();
    const limit = deps.holdLimit?.getTime() ?? Number.POSITIVE_INFINITY;
    const to = new Date(Math.max(from, Math.min(from + request.ms, limit)));
    const extension = { by: request.by, requestedMs: request.ms, grantedMs: to.getTime() - from };
    log.info(
      `@${request.by} asked to extend the preview by ${request.ms / 1000} s; granted ${extension.grantedMs / 1000} s (expires ${to.toISOString()}).`,
    );
    live = { ...live, expiresAt: to, extension };
    await emitLive();
  }
}

/**
 * Clean-up keeps trying while the engine is away. Cancelled, the runner SIGKILLs us 10 s after SIGINT: a few
 * seconds, then the post step takes over with its own patience. Otherwise as long as the job allows us.
 */
function removalPatience(id: string, deps: PreviewDeps): EnginePatience {
  const patienceMs = deps.signal.aborted
    ? Math.min(CANCEL_PATIENCE_MS, deps.cleanupPatienceMs ?? CANCEL_PATIENCE_MS)
    : (deps.cleanupPatienceMs ?? CLEANUP_PATIENCE_MS);
  return {
    patienceMs,
    onWaiting: (problem) =>
      deps.log.warning(
        `The Docker engine does not answer (${problem}); trying again for up to ${Math.round(patienceMs / 1000)} s to remove container ${id.slice(0, 12)}.`,
      ),
  };
}

function open(
  config: PreviewConfig,
  port: number,
  deps: PreviewDeps,
  signal: AbortSignal = deps.signal,
): Promise<Tunnel> {
  return openTunnel(config.tunnel, { port }, deps.metadata, deps.log, {
    watchdogMs: deps.watchdogMs,
    collisionRetryMs: deps.collisionRetryMs,
    signal,
  });
}

/**
 * Does the app still answer on its port? Any HTTP answer counts (an error page is the app's to fix); a
 * connection taken but no answer within the time (a hung or `docker pause`d app) or refused does not.
 */
async function appAnswers(
  url: URL,
  pollIntervalMs: number,
  signal: AbortSignal,
): Promise<{ up: true } | { up: false; why: string }> {
  const timeoutMs = Math.min(APP_ANSWER_MAX_MS, Math.max(APP_ANSWER_MIN_MS, pollIntervalMs));
  const answer = await httpAnswer(url, timeoutMs, signal);
  if ("status" in answer) return { up: true };
  if (answer.silent)
    return { up: false, why: `GET ${url.pathname} got no answer within ${timeoutMs / 1000} s` };
  return { up: false, why: `nothing answers on port ${url.port}: ${answer.error}` };
}
const APP_ANSWER_MIN_MS = 2000;
const APP_ANSWER_MAX_MS = 10_000;

/**
 * A missing engine is the most common first-run problem: say so plainly instead of a socket error. It is
 * the step that first needs the engine (build, or pull for an `image`), as the phase timing names it.
 */
async function engineAnswers(docker: Docker, step: "build" | "pull"): Promise<void> {
  try {
    await docker.ping();
  } catch (err) {
    const where = engineAddress();
    throw new PreviewError(
      step,
      `The Docker engine does not answer at ${where} (${(err as Error).message}). Start Docker (e.g. \`sudo systemctl start docker\`) or point DOCKER_HOST at a running engine.`,
      { code: "DOCKER_UNREACHABLE", cause: err },
    );
  }
}

/** What ended runs of this PR and name left running (killed outright) goes first; said, never fatal. */
async function removeLeftBehind(deps: PreviewDeps): Promise<void> {
  try {
    for (const { id, run } of await removeEndedRuns(deps.docker!, deps.labels, deps.runOver))
      deps.log.warning(
        `Removed container ${id.slice(0, 12)} left behind by run ${run} of this preview, which ended without cleaning up.`,
      );
  } catch (err) {
    deps.log.warning(`Could not check for containers left behind by ended runs: ${(err as Error).message}`);
  }
}

function buildCacheOf(image: PreparedImage | undefined): StateDetails["buildCache"] {
  if (!image?.built || !image.totalSteps) return undefined;
  return { cachedSteps: image.cachedSteps ?? 0, totalSteps: image.totalSteps };
}

function protectionOf(config: PreviewConfig) {
  return config.tunnel.provider === "ngrok" ? config.tunnel.protection : { allowCidrs: [] };
}

/** The protections in force, by name, for the live comment's note (undefined when the link is open). */
function protectionOfLive(config: PreviewConfig): string | undefined {
  if (config.tunnel.provider !== "ngrok") return undefined;
  const names = protectionNames(config.tunnel.protection);
  return names.length > 0 ? names.join(", ") : undefined;
}

/** A stop request or a takeover turns the next step into the end of the preview. */
function checkStop(signal: AbortSignal, superseded: boolean): void {
  if (signal.aborted) throw new StopRequested();
  if (superseded) throw new StopRequested("superseded");
}

class StopRequested extends Error {
  constructor(readonly why: "signal" | "superseded" = "signal") {
    super("stop requested");
  }
}

function finalState(end: { state: string; error?: unknown }, signal: AbortSignal, superseded: boolean) {
  if (superseded || end.state === "superseded") return "superseded" as const;
  if (end.state === "failed" && "error" in end && (end.error instanceof StopRequested || signal.aborted)) {
    return "stopped" as const;
  }
  return end.state as PreviewResult["state"];
}

async function describeFailure(
  end: { state: "failed"; step: PreviewStep; error?: unknown; reason?: string; exit?: ContainerExit },
  app: AppContainer | undefined,
): Promise<Partial<StateDetails>> {
  const err = end.error;
  const logLines =
    err instanceof PreviewError && err.logLines ? err.logLines : await app?.tail(50).catch(() => []);
  return {
    step: err instanceof PreviewError ? err.step : end.step,
    error: err === undefined ? end.reason : err instanceof Error ? err.message : String(err),
    exitCode: err instanceof PreviewError ? err.exitCode : end.exit?.exitCode,
    logLines,
  };
}

async function safeReport(r: Reporter, e: PreviewEvent, log: Logger): Promise<void | "superseded"> {
  try {
    return await r.report(e);
  } catch (err) {
    // A reporter problem (e.g. GitHub down) must not take the preview down: the link is still in the log.
    log.warning(`Could not update the ${r.name}: ${(err as Error).message}`);
  }
}

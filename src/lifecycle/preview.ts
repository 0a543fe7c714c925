import type { AppSource, PreviewConfig } from "../config/types.js";
import { PreviewError, type PreviewStep } from "../errors.js";
import { httpAnswer } from "../http.js";
import type { Logger } from "../log.js";
import { openTunnel } from "../tunnel/open.js";
import type { Tunnel, TunnelMetadata, TunnelOpener } from "../tunnel/types.js";
import { CleanupStack } from "./cleanup.js";
import { EarlyTunnel } from "./early-tunnel.js";
import {
  type HoldEnd,
  type HoldWatch,
  holdUntilEnd,
  PR_CLOSED,
  stopReason,
  watchPullRequest,
} from "./hold.js";
import { previewExpiry } from "./poll.js";
import { waitForLocalApp } from "./share.js";
import type {
  PreparedImage,
  PreviewEventName,
  Reporter,
  RunningApp,
  Runtime,
  StateDetails,
} from "./types.js";

/**
 * The preview from start to guaranteed end, as phases:
 *
 *   connect (and sweep) → prepare the image → start the app → wait until ready (the tunnel opening
 *   meanwhile) → check the public link answers → live → hold (a lost tunnel reopened) → clean up → report
 *
 * `share` skips the first three: its app runs already. The app runs on a `Runtime` (Docker: dockerRuntime in
 * src/docker) and is reached through a `Tunnel` (src/tunnel); this file knows neither Docker nor ngrok.
 * A failure at any phase still runs every clean-up after it, and the final report says which step failed.
 */
export async function runPreview(config: PreviewConfig, deps: PreviewDeps): Promise<PreviewResult> {
  const run = new PreviewRun(config, deps);
  let end: End;
  try {
    const source = config.source;
    let local: LocalApp;
    if (source.kind === "share") {
      run.watchPullRequest();
      local = await waitForShare(run, source.port);
    } else {
      const runtime = runtimeOf(deps);
      const connected = await connect(run, runtime, imageStepOf(source));
      run.watchPullRequest();
      const image = await prepareImage(run, runtime, source, connected);
      const app = await startApp(run, runtime, image);
      local = await waitUntilReady(run, app, image);
    }
    await run.emit("ready", { localUrl: local.url, containerId: local.app?.id, phases: { ...run.phases } });
    const tunnel = await openPublicLink(run, local.early);
    await goLive(run, tunnel, local);
    end = await hold(run, tunnel, local.app);
  } catch (error) {
    end = { state: "failed", step: run.step, error };
  }
  return finish(run, end);
}

export interface PreviewDeps {
  /** Where the app runs (Docker: dockerRuntime); none for `share`, whose app runs already. */
  readonly runtime?: Runtime;
  /** How the public link is opened; default the `tunnel` input's provider (ngrok, or none). */
  readonly openTunnel?: TunnelOpener;
  readonly log: Logger;
  readonly reporters: readonly Reporter[];
  /** Aborted on SIGINT/SIGTERM (the reason becomes the `stopped` text). */
  readonly signal: AbortSignal;
  readonly metadata: TunnelMetadata;
  readonly commit?: string;
  readonly pollIntervalMs: number;
  /** Polled while live; the signal ends a request still in flight when the preview ends. */
  readonly prOpen?: (signal: AbortSignal) => Promise<boolean>;
  readonly superseded?: (signal: AbortSignal) => Promise<boolean>;
  /** A PR command's request to the live preview (`/preview stop`, `/preview extend`), read after each poll. */
  readonly request?: HoldWatch["request"];
  /** How long the hold may last at most (the job running it ends then): `/preview extend` stops there. */
  readonly holdLimit?: Date;
  /** Called with ids as soon as they exist, so a crash can still be cleaned up (the Action's post step). */
  readonly onResource?: (kind: "container" | "image", id: string) => void;
  readonly watchdogMs?: number;
  readonly collisionRetryMs?: number;
  /** How long clean-up keeps trying while the runtime does not answer (default CLEANUP_PATIENCE_MS). */
  readonly cleanupPatienceMs?: number;
}

export interface PreviewResult {
  readonly state: "expired" | "stopped" | "superseded" | "failed";
  readonly details: StateDetails;
}

/** How long the lifecycle's clean-up waits for a runtime that does not answer (the post step tries again). */
export const CLEANUP_PATIENCE_MS = 2 * 60_000;
const CANCEL_PATIENCE_MS = 5000;
/** A fresh tunnel that held this long was a success: a later loss is a new incident, not "lost again". */
const TUNNEL_HEALTHY_MS = 10 * 60_000;
const APP_ANSWER_MIN_MS = 2000;
const APP_ANSWER_MAX_MS = 10_000;

type End = HoldEnd | { state: "failed"; step: PreviewStep; error: unknown };

/** The app answering on this machine, and the tunnel that opened meanwhile. */
interface LocalApp {
  readonly url: string;
  readonly app?: RunningApp;
  readonly image?: PreparedImage;
  readonly early: EarlyTunnel;
}

// ── Phase 1: connect. The runtime is asked (and what ended runs left behind is swept) while the
// "building" comment is written: neither waits for the other. The answer is awaited by the next phase.
async function connect(run: PreviewRun, runtime: Runtime, step: "build" | "pull"): Promise<Connecting> {
  const problem = runtime.connect(step).then(
    () => undefined,
    (err: unknown) => err ?? new Error("the runtime could not be reached"),
  );
  await run.emit("building", { commit: run.deps.commit, startedAt: run.startedAt });
  return { problem };
}
/** The runtime's answer to connect: its error, or undefined once it answers. */
interface Connecting {
  readonly problem: Promise<unknown>;
}

// ── Phase 2: prepare the image (build, or pull for `image`).
async function prepareImage(
  run: PreviewRun,
  runtime: Runtime,
  source: Exclude<AppSource, { kind: "share" }>,
  connected: Connecting,
): Promise<PreparedImage> {
  const step = imageStepOf(source);
  await run.timed(step, async () => {
    const problem = await connected.problem;
    if (problem) throw problem;
  });
  run.cleanup.push("release what the runtime fetched ahead", () => runtime.release());
  const image = await run.timed(step, () => runtime.prepareImage(source, run.signal));
  run.deps.onResource?.("image", image.imageId);
  await run.emit("starting", { commit: run.deps.commit, image: image.ref });
  return image;
}

// ── Phase 3: start the app; its removal is registered the moment it exists.
async function startApp(run: PreviewRun, runtime: Runtime, image: PreparedImage): Promise<RunningApp> {
  const app = await run.timed("run", () => runtime.start(image));
  run.app = app;
  run.cleanup.push("remove the container", () => app.remove(removalPatienceMs(run.deps)));
  run.deps.onResource?.("container", app.id);
  return app;
}

// ── Phase 4: wait until the app answers. Its port is known, so the tunnel opens meanwhile (EarlyTunnel).
async function waitUntilReady(run: PreviewRun, app: RunningApp, image: PreparedImage): Promise<LocalApp> {
  const { healthPath, readyTimeoutMs } = run.config;
  const early = new EarlyTunnel((s) => run.openPublic(app.hostPort, s), run.signal, run.cleanup);
  await run.timed("ready", () =>
    early.alongside(run.signal, (signal) =>
      app.waitUntilReady({ healthPath, timeoutMs: readyTimeoutMs, signal }),
    ),
  );
  // Start-up downloads are done: keep them while the preview goes live; clean-up waits for it (a cancel too).
  const keeping = app.keepStartup();
  run.cleanup.push("save the cache dirs", () => keeping);
  return { url: app.localUrl, app, image, early };
}

/** `share` builds nothing: its first event is `ready`, once the app on this machine answers. */
async function waitForShare(run: PreviewRun, port: number): Promise<LocalApp> {
  const url = `http://127.0.0.1:${port}`;
  const early = new EarlyTunnel((s) => run.openPublic(port, s), run.signal, run.cleanup);
  await run.timed("ready", () =>
    early.alongside(run.signal, (s) => waitForLocalApp(url, run.config.readyTimeoutMs, s, run.deps.log)),
  );
  return { url, early };
}

// ── Phase 5: the public link. "tunnel" times only what is left of opening it once the app is ready.
async function openPublicLink(run: PreviewRun, early: EarlyTunnel): Promise<Tunnel> {
  const tunnel = await run.timed("tunnel", () => early.tunnel());
  if (tunnel.url) await run.timed("verify", () => tunnel.verify(run.signal));
  run.checkStop();
  return tunnel;
}

// ── Phase 6: live. From here the hold polls the PR.
async function goLive(run: PreviewRun, tunnel: Tunnel, local: LocalApp): Promise<void> {
  const { image, app } = local;
  run.live = {
    url: tunnel.url,
    localUrl: local.url,
    expiresAt: previewExpiry(Date.now(), run.config.durationMs, run.deps.holdLimit),
    image: image?.ref,
    imageId: image?.imageId,
    buildCache:
      image?.built && image.totalSteps
        ? { cachedSteps: image.cachedSteps ?? 0, totalSteps: image.totalSteps }
        : undefined,
    containerId: app?.id,
    commit: run.deps.commit,
  };
  run.protection = tunnel.protection;
  run.stopPrWatch();
  run.step = "live";
  await run.emitLive();
  run.checkStop();
}

// ── Phase 7: hold until something ends the preview. A lost tunnel gets a fresh session; losing that one too
// within TUNNEL_HEALTHY_MS fails the preview (something is wrong beyond a blip), while two incidents hours
// apart in a long preview each get their fresh session. `/preview extend` moves the expiry and holds on.
async function hold(run: PreviewRun, first: Tunnel, app: RunningApp | undefined): Promise<HoldEnd> {
  let tunnel = first;
  let freshAt: number | undefined;
  for (;;) {
    const result = await holdUntilEnd(run.holdWatch(tunnel, app));
    if (result.state === "extend") {
      await extend(run, result);
      continue;
    }
    if (result.state !== "tunnel-lost") return result;
    if (freshAt !== undefined && Date.now() - freshAt < TUNNEL_HEALTHY_MS)
      return { state: "failed", step: "live", reason: `the tunnel was lost again: ${result.reason}` };
    freshAt = Date.now();
    run.deps.log.warning(`The tunnel was lost (${result.reason}); opening a fresh session.`);
    await tunnel.close().catch(() => {});
    const fresh = await run.openTunnel(Number(new URL(run.live.localUrl!).port), run.deps.signal);
    run.cleanup.push("close the tunnel", () => fresh.close());
    tunnel = fresh;
    await fresh.verify(run.signal);
    run.live = { ...run.live, url: fresh.url };
    await run.emitLive();
  }
}

/** `/preview extend`: the expiry moves, but never past the end of the job holding the preview. */
async function extend(run: PreviewRun, request: { ms: number; by: string }): Promise<void> {
  const from = run.live.expiresAt!.getTime();
  const limit = run.deps.holdLimit?.getTime() ?? Number.POSITIVE_INFINITY;
  const to = new Date(Math.max(from, Math.min(from + request.ms, limit)));
  const extension = { by: request.by, requestedMs: request.ms, grantedMs: to.getTime() - from };
  run.deps.log.info(
    `@${request.by} asked to extend the preview by ${request.ms / 1000} s; granted ${extension.grantedMs / 1000} s (expires ${to.toISOString()}).`,
  );
  run.live = { ...run.live, expiresAt: to, extension };
  await run.emitLive();
}

// ── Phase 8: the end. Whatever ended it, everything started is cleaned up, then the final state is reported.
async function finish(run: PreviewRun, end: End): Promise<PreviewResult> {
  run.stopPrWatch();
  await run.silenceReported; // a `live` note still being written must not land after the final state
  const final = finalState(end, run.signal, run.superseded);
  // The app's last words are fetched before it is removed.
  const failure = final === "failed" && end.state === "failed" ? await describeFailure(end, run.app) : {};
  await run.cleanup.run();
  const details: StateDetails = {
    ...run.live,
    at: new Date(),
    phases: run.phases,
    reason: "reason" in end ? end.reason : final === "stopped" ? stopReason(run.signal) : undefined,
    ...failure,
  };
  await run.emit(final, details);
  return { state: final, details };
}

/**
 * What every phase shares: the stop signal, where events go, the step being run and its timing, the
 * clean-up stack, the PR watch before live, and what the live comment shows.
 */
class PreviewRun {
  step: PreviewStep = "build";
  /** A reporter found a newer run owns the comment: the next step ends the preview. */
  superseded = false;
  readonly phases: Record<string, number> = {};
  readonly startedAt = new Date();
  readonly cleanup: CleanupStack;
  /** The runner's cancel, or the PR closing before live: either ends the preview as `stopped`. */
  readonly signal: AbortSignal;
  /** The app, once it runs: its last log lines describe a failure. */
  app: RunningApp | undefined;
  /** What the comment shows while live (and keeps in the final state). */
  live: StateDetails = {};
  /** The protections in force, by name, for the live comment's note. */
  protection: string | undefined;
  silenceReported = Promise.resolve();
  stopPrWatch: () => void = () => {};
  private readonly closed = new AbortController();
  private readonly prOpen: PreviewDeps["prOpen"];
  private readonly open: TunnelOpener;

  constructor(
    readonly config: PreviewConfig,
    readonly deps: PreviewDeps,
  ) {
    this.signal = AbortSignal.any([deps.signal, this.closed.signal]);
    this.cleanup = new CleanupStack(deps.log);
    this.prOpen = config.stopOnClose ? deps.prOpen : undefined;
    this.open = deps.openTunnel ?? tunnelOf(config, deps);
  }

  // Reporters run in order: the comment first (its latency is what reviewers wait for), the event file
  // a detached holder's parent follows last, so whoever reads that file finds the comment already updated.
  async emit(event: PreviewEventName, details: StateDetails): Promise<void> {
    for (const r of this.deps.reporters) {
      try {
        if ((await r.report({ event, details })) === "superseded") this.superseded = true;
      } catch (err) {
        // A reporter problem (e.g. GitHub down) must not take the preview down: the link is still in the log.
        this.deps.log.warning(`Could not update the ${r.name}: ${(err as Error).message}`);
      }
    }
  }

  /** The one `live` emission: on going live, after a fresh tunnel or an extension, and for silence notes. */
  emitLive(extra: StateDetails = {}): Promise<void> {
    const { live, phases, config, protection } = this;
    return this.emit("live", {
      ...live,
      phases: { ...phases },
      qrCode: config.github.qrCode,
      protected: protection,
      ...extra,
    });
  }

  /** Runs one step, timed; a stop request or a takeover before it ends the preview instead. */
  async timed<T>(name: PreviewStep, fn: () => Promise<T>): Promise<T> {
    this.step = name;
    this.checkStop();
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      this.phases[name] = Math.round(performance.now() - t0);
    }
  }

  checkStop(): void {
    if (this.signal.aborted) throw new StopRequested();
    if (this.superseded) throw new StopRequested("superseded");
  }

  readonly onPollError = (err: unknown) =>
    this.deps.log.warning(`Could not check the pull request: ${(err as Error).message}`);

  /** Before live: a build is not finished (nor a tunnel opened) for a PR closed meanwhile. */
  watchPullRequest(): void {
    const prOpen = this.prOpen;
    if (!prOpen) return;
    this.stopPrWatch = watchPullRequest(
      () => prOpen(this.signal),
      this.deps.pollIntervalMs,
      () => this.closed.abort(PR_CLOSED),
      this.onPollError,
    );
  }

  /** Asked before a public tunnel opens: a closed PR never gets one. */
  async openPublic(port: number, signal: AbortSignal): Promise<Tunnel> {
    const stillOpen = await this.prOpen?.(signal).catch((err: unknown) => {
      this.onPollError(err);
      return true;
    });
    if (stillOpen === false) this.closed.abort(PR_CLOSED);
    if (this.signal.aborted) throw new StopRequested();
    return this.open(port, signal);
  }

  openTunnel(port: number, signal: AbortSignal): Promise<Tunnel> {
    return this.open(port, signal);
  }

  /** What the hold watches for one tunnel: see holdUntilEnd. */
  holdWatch(tunnel: Tunnel, app: RunningApp | undefined): HoldWatch {
    const localUrl = this.live.localUrl;
    const pollIntervalMs = this.deps.pollIntervalMs;
    return {
      expiresAt: this.live.expiresAt!,
      jobLimit: this.deps.holdLimit,
      signal: this.signal,
      exited: app ? app.exited : new Promise(() => {}),
      tunnelLost: new Promise<string>((resolve) => tunnel.onLost(resolve)),
      pollIntervalMs,
      prOpen: this.prOpen,
      superseded: this.deps.superseded,
      request: this.deps.request,
      linkUp: (done) => tunnel.linkUp(AbortSignal.any([this.signal, done])),
      linkGraceMs: this.deps.watchdogMs ?? 30_000,
      appAnswers: localUrl
        ? (s) => appAnswers(new URL(this.config.healthPath ?? "/", localUrl), pollIntervalMs, s)
        : undefined,
      onAppSilence: (since, why) => {
        if (since)
          this.deps.log.warning(`The app does not answer on its port since ${since.toISOString()} (${why}).`);
        else this.deps.log.info("The app answers again.");
        this.silenceReported = this.silenceReported.then(() =>
          this.emitLive({ notAnsweringSince: since, notAnsweringWhy: why }),
        );
      },
      onPollError: this.onPollError,
    };
  }
}

function runtimeOf(deps: PreviewDeps): Runtime {
  if (!deps.runtime)
    throw new Error("runPreview: a build or image preview needs deps.runtime (e.g. dockerRuntime)");
  return deps.runtime;
}

function imageStepOf(source: Exclude<AppSource, { kind: "share" }>): "build" | "pull" {
  return source.kind === "build" ? "build" : "pull";
}

/** The `tunnel` input's provider, to 127.0.0.1:port. */
function tunnelOf(config: PreviewConfig, deps: PreviewDeps): TunnelOpener {
  return (port, signal) =>
    openTunnel(config.tunnel, { port }, deps.metadata, deps.log, {
      watchdogMs: deps.watchdogMs,
      collisionRetryMs: deps.collisionRetryMs,
      signal,
    });
}

/**
 * Clean-up keeps trying while the runtime is away. Cancelled, the runner SIGKILLs us 10 s after SIGINT: a
 * few seconds, then the post step takes over with its own patience. Otherwise as long as the job allows us.
 */
function removalPatienceMs(deps: PreviewDeps): number {
  return deps.signal.aborted
    ? Math.min(CANCEL_PATIENCE_MS, deps.cleanupPatienceMs ?? CANCEL_PATIENCE_MS)
    : (deps.cleanupPatienceMs ?? CLEANUP_PATIENCE_MS);
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

/** A stop request or a takeover turns the next step into the end of the preview. */
class StopRequested extends Error {
  constructor(readonly why: "signal" | "superseded" = "signal") {
    super("stop requested");
  }
}

function finalState(end: End, signal: AbortSignal, superseded: boolean): PreviewResult["state"] {
  if (superseded || end.state === "superseded") return "superseded";
  if (end.state === "failed" && "error" in end && (end.error instanceof StopRequested || signal.aborted)) {
    return "stopped";
  }
  return end.state as PreviewResult["state"];
}

async function describeFailure(
  end: Extract<End, { state: "failed" }>,
  app: RunningApp | undefined,
): Promise<Partial<StateDetails>> {
  const err = "error" in end ? end.error : undefined;
  const logLines =
    err instanceof PreviewError && err.logLines ? err.logLines : await app?.tail(50).catch(() => []);
  return {
    step: err instanceof PreviewError ? err.step : end.step,
    error: "reason" in end ? end.reason : err instanceof Error ? err.message : String(err),
    exitCode: err instanceof PreviewError ? err.exitCode : "exit" in end ? end.exit?.exitCode : undefined,
    logLines,
  };
}

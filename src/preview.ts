import type Docker from "dockerode";
import type { PreviewConfig } from "./config/types.js";
import { prepareImage, startContainer, waitUntilReady } from "./docker/index.js";
import type { AppContainer, ContainerExit, PreparedImage, PreviewLabels } from "./docker/types.js";
import { PreviewError, type PreviewStep } from "./errors.js";
import type { StateDetails } from "./github/types.js";
import { CleanupStack } from "./lifecycle/cleanup.js";
import { EarlyTunnel } from "./lifecycle/early-tunnel.js";
import { type HoldEnd, type HoldWatch, holdUntilEnd, stopReason } from "./lifecycle/hold.js";
import type { PreviewEvent, PreviewEventName, Reporter } from "./lifecycle/reporter.js";
import { waitForLocalApp } from "./lifecycle/share.js";
import type { Logger } from "./log.js";
import { checkLink, openTunnel, verifyTunnel } from "./tunnel/index.js";
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
  /** A PR command's request to the live preview (`/preview stop`, `/preview extend`), read after each poll. */
  readonly request?: HoldWatch["request"];
  /** How long the hold may last at most (the job running it ends then): `/preview extend` stops there. */
  readonly holdLimit?: Date;
  /** Called with ids as soon as they exist, so a crash can still be cleaned up (the Action's post step). */
  readonly onResource?: (kind: "container" | "image", id: string) => void;
  readonly watchdogMs?: number;
  readonly collisionRetryMs?: number;
}

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
  const { log, signal } = deps;
  const cleanup = new CleanupStack(log);
  const phases: Record<string, number> = {};
  const startedAt = new Date();
  let step: PreviewStep = "build";
  let image: PreparedImage | undefined;
  let app: AppContainer | undefined;
  let tunnel: Tunnel | undefined;
  let live: StateDetails = {};
  let superseded = false;

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
      source.kind === "share" ? undefined : engineAnswers(deps.docker!).catch((err: unknown) => err);
    if (source.kind !== "share") await emit("building", { commit: deps.commit, startedAt });
    let localUrl: string;
    let early: EarlyTunnel;
    if (source.kind === "share") {
      localUrl = `http://127.0.0.1:${source.port}`;
      early = new EarlyTunnel((s) => open(config, source.port, deps, s), signal, cleanup);
      await timed("ready", () =>
        early.alongside(signal, (s) => waitForLocalApp(localUrl, config.readyTimeoutMs, s)),
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
      const started = await timed("run", () => startContainer(docker, image!, config, deps.labels, log));
      app = started;
      cleanup.push("remove the container", () => started.remove());
      deps.onResource?.("container", started.id);
      // The host port is known: the tunnel opens while the app starts (see EarlyTunnel).
      early = new EarlyTunnel((s) => open(config, started.hostPort, deps, s), signal, cleanup);
      await timed("ready", () =>
        early.alongside(signal, (s) =>
          waitUntilReady(docker, started, {
            healthPath: config.healthPath,
            timeoutMs: config.readyTimeoutMs,
            signal: s,
          }),
        ),
      );
      localUrl = started.localUrl;
    }
    await emit("ready", { localUrl, containerId: app?.id, phases: { ...phases } });

    // Phases are what each step added to the wait: "tunnel" is only what is left of opening it once ready.
    tunnel = await timed("tunnel", () => early.tunnel());
    if (tunnel.url) {
      const url = tunnel.url;
      await timed("verify", () => verifyTunnel(url, protectionOf(config), { signal }));
    }
    checkStop(signal, superseded);

    const expiresAt = new Date(Date.now() + config.durationMs);
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
    step = "live";
    await emitLive();

    checkStop(signal, superseded);
    end = await holdLive();
  } catch (error) {
    end = { state: "failed", step, error };
  }

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
        signal,
        exited: app ? app.exited : new Promise<ContainerExit>(() => {}),
        tunnelLost: new Promise<string>((resolve) => current.onLost(resolve)),
        pollIntervalMs: deps.pollIntervalMs,
        prOpen: config.stopOnClose ? deps.prOpen : undefined,
        superseded: deps.superseded,
        request: deps.request,
        linkUp: current.url
          ? (done) => checkLink(current.url!, protectionOf(config), AbortSignal.any([signal, done]))
          : undefined,
        linkGraceMs: deps.watchdogMs ?? 30_000,
        onPollError: (err) => log.warning(`Could not check the pull request: ${(err as Error).message}`),
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

  function emitLive(): Promise<void> {
    return emit("live", {
      ...live,
      phases: { ...phases },
      qrCode: config.github.qrCode,
      protected: isProtected(config),
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

/** A missing engine is the most common first-run problem: say so plainly instead of a socket error. */
async function engineAnswers(docker: Docker): Promise<void> {
  try {
    await docker.ping();
  } catch (err) {
    const where = process.env.DOCKER_HOST || "unix:///var/run/docker.sock";
    throw new PreviewError(
      "build",
      `The Docker engine does not answer at ${where} (${(err as Error).message}). Start Docker (e.g. \`sudo systemctl start docker\`) or point DOCKER_HOST at a running engine.`,
      { code: "DOCKER_UNREACHABLE", cause: err },
    );
  }
}

function buildCacheOf(image: PreparedImage | undefined): StateDetails["buildCache"] {
  if (!image?.built || !image.totalSteps) return undefined;
  return { cachedSteps: image.cachedSteps ?? 0, totalSteps: image.totalSteps };
}

function protectionOf(config: PreviewConfig) {
  return config.tunnel.provider === "ngrok" ? config.tunnel.protection : { allowCidrs: [] };
}

function isProtected(config: PreviewConfig): boolean {
  if (config.tunnel.provider !== "ngrok") return false;
  const p = config.tunnel.protection;
  return Boolean(p.basicAuth || p.oauth || p.allowCidrs.length > 0);
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

import type { AppSource, PreviewState } from "../config/types.js";

/** `ready` is an event, not a state: the app answers locally, the tunnel is not open yet. */
export type PreviewEventName = PreviewState | "ready";

export interface PreviewEvent {
  readonly event: PreviewEventName;
  readonly details: StateDetails;
}

/**
 * Where events go: the PR comment, the deployment, outputs + summary, the log, the CLI's JSON lines.
 * A reporter that finds a newer run owns the comment answers "superseded": the lifecycle then stops.
 */
export interface Reporter {
  readonly name: string;
  report(event: PreviewEvent): Promise<void | "superseded">;
}

/** Final states: the preview is over and everything it started is gone. */
export const FINAL_STATES: readonly PreviewState[] = [
  "failed",
  "expired",
  "stopped",
  "superseded",
  "skipped",
];

/** What the comment, summary and log show for a state. Every field optional: each state uses some. */
export interface StateDetails {
  readonly url?: string;
  readonly localUrl?: string;
  readonly expiresAt?: Date;
  readonly startedAt?: Date;
  readonly at?: Date;
  readonly commit?: string;
  readonly image?: string;
  readonly imageId?: string;
  /** Build steps served from the cache, when we built the image. */
  readonly buildCache?: { readonly cachedSteps: number; readonly totalSteps: number };
  readonly containerId?: string;
  /** failed: which lifecycle step failed (build, pull, run, ready, tunnel, verify, live). */
  readonly step?: string;
  readonly error?: string;
  readonly exitCode?: number;
  readonly logLines?: readonly string[];
  /** expired/stopped/superseded/skipped: why, in words. */
  readonly reason?: string;
  /** skipped: how to enable it. */
  readonly hint?: string;
  readonly qrCode?: boolean;
  /** The protections in force, by name ("basic auth, OAuth (google)"); true when unnamed. */
  readonly protected?: boolean | string;
  readonly phases?: Readonly<Record<string, number>>;
  /** live: the app has not answered on its port since then (two polls in a row), and why. */
  readonly notAnsweringSince?: Date;
  readonly notAnsweringWhy?: string;
  /** live: the last `/preview extend`, and how much of it the job running the preview had left to give. */
  readonly extension?: { readonly by: string; readonly requestedMs: number; readonly grantedMs: number };
}

export interface StateReport {
  readonly state: PreviewState;
  readonly details: StateDetails;
}

/** What a runtime made ready to run. */
export interface PreparedImage {
  readonly imageId: string;
  /** What the user would call it: the `image` input, or the tag we gave the build. */
  readonly ref: string;
  readonly built: boolean;
  /** Build/pull timing and cache facts for the job summary. */
  readonly buildMs?: number;
  readonly cachedSteps?: number;
  readonly totalSteps?: number;
}

export interface ContainerExit {
  readonly exitCode: number;
  readonly oomKilled?: boolean;
}

/**
 * Where the app runs: what the lifecycle asks of it. Docker is the one implementation (src/docker/runtime.ts);
 * another (Kubernetes: image pushed by digest, a Deployment and a port-forward) implements the same and the
 * lifecycle does not change. Everything thrown is a PreviewError naming its step.
 */
export interface Runtime {
  /**
   * Before anything else: the runtime answers, and what ended runs of this preview left behind is cleared.
   * `step` is the step that first needs it (build, or pull for an image): a runtime that cannot be reached,
   * or not even named right, fails as that step.
   */
  connect(step: "build" | "pull"): Promise<void>;
  /** Builds or pulls the image (throws PreviewError step "build" or "pull"). */
  prepareImage(source: Exclude<AppSource, { kind: "share" }>, signal: AbortSignal): Promise<PreparedImage>;
  /** Starts the app (throws PreviewError step "run"); it answers on 127.0.0.1:hostPort. */
  start(image: PreparedImage): Promise<RunningApp>;
  /** Drops what it fetched ahead for an app that never started (Docker: the cache-dirs entry); safe to repeat. */
  release(): Promise<void>;
}

/** The app as it runs: ours until remove(). */
export interface RunningApp {
  readonly id: string;
  readonly hostPort: number;
  /** http://127.0.0.1:<hostPort> */
  readonly localUrl: string;
  /** Until the app answers; throws PreviewError(step "ready") with the exit code and last log lines. */
  waitUntilReady(opts: { healthPath?: string; timeoutMs: number; signal: AbortSignal }): Promise<void>;
  /** Once it answered: keep what start-up produced (Docker: save the cache dirs). Clean-up waits for it. */
  keepStartup(): Promise<void>;
  /** Resolves once when the app stops, for whatever reason. */
  readonly exited: Promise<ContainerExit>;
  /** Its last `n` log lines, secrets scrubbed. */
  tail(n: number): Promise<string[]>;
  /** Stops and removes it; safe to call twice; while the runtime does not answer, keeps trying this long. */
  remove(patienceMs: number): Promise<void>;
}

/** A PR command's request to the live preview (`/preview stop`, `/preview extend`), read after each poll. */
export interface PreviewRequest {
  readonly kind: "stop" | "extend";
  /** extend: by how much. */
  readonly ms?: number;
  /** The login of the person who asked. */
  readonly by: string;
}

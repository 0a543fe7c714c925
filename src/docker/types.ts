import type { AppSource, PreviewConfig } from "../config/types.js";
import type { ContainerExit } from "../lifecycle/types.js";

/** Labels put on everything we create, so an orphan can always be found and removed. */
export interface PreviewLabels {
  readonly "ml-preview.repo": string;
  readonly "ml-preview.pr": string;
  readonly "ml-preview.run": string;
  readonly "ml-preview.name": string;
}

/** The pull request a preview's labels name, or undefined outside one (`none`: the CLI, a branch's run). */
export function labelledPr(labels: Pick<PreviewLabels, "ml-preview.pr">): number | undefined {
  const pr = labels["ml-preview.pr"];
  return /^[1-9]\d*$/.test(pr) ? Number(pr) : undefined;
}

/** An image's labels: stable across runs, so an unchanged rebuild is the same image (see imageLabels). */
export type ImageLabels = Omit<PreviewLabels, "ml-preview.run">;

/** A container we started and own until remove(). */
export interface AppContainer {
  readonly id: string;
  readonly containerPort: number;
  readonly hostPort: number;
  /** http://127.0.0.1:<hostPort> */
  readonly localUrl: string;
  /** Resolves once when the container stops, for whatever reason. */
  readonly exited: Promise<ContainerExit>;
  /** The last `n` lines of stdout+stderr, demuxed, secrets scrubbed. */
  tail(n: number): Promise<string[]>;
  /**
   * Calls `listener` with each new complete log line (scrubbed) as it arrives; returns the unsubscribe
   * function. Readiness uses it to poll at once when the app prints something (e.g. "Running on ...").
   */
  onLogLine?(listener: (line: string) => void): () => void;
  /**
   * Stop with a short grace, then remove; safe to call twice (the first call's patience wins); never throws
   * for "already gone"; while the engine does not answer, tries again for `patience`.
   */
  remove(patience?: EnginePatience): Promise<void>;
}

export type RunOptions = Pick<PreviewConfig, "port" | "env" | "command" | "resources" | "name" | "secrets">;

export type BuildSource = Exclude<AppSource, { kind: "share" }>;

export interface EnginePatience {
  /** How long to keep trying while the engine does not answer (0: one try). */
  readonly patienceMs: number;
  /** Said once, when the first try finds the engine gone (e.g. "trying again for up to 2m"). */
  readonly onWaiting?: (problem: string) => void;
}

import type { PreviewState } from "../config/types.js";
import type { StateDetails } from "../github/types.js";

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

import type { PreviewState } from "../config/types.js";

/** Facts about the GitHub run that every reporter needs. */
export interface RunContext {
  readonly owner: string;
  readonly repo: string;
  /** `RUN_ID.RUN_ATTEMPT`, as written into the comment marker. */
  readonly runId: string;
  readonly runUrl: string;
  /** The commit reports name: the PR's head commit once the PR is known, else GITHUB_SHA. */
  readonly sha: string;
  readonly eventName: string;
}

/** The pull request a preview reports to. */
export interface PullRequestInfo {
  readonly number: number;
  readonly headSha: string;
  readonly headRef: string;
  readonly isFork: boolean;
  readonly labels: readonly string[];
  readonly state: "open" | "closed";
}

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

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

/** Public types of the GitHub REST emulator. Other test helpers code against these names: do not rename. */

export interface EmulatedPull {
  number: number;
  headSha: string;
  headRef: string;
  state?: "open" | "closed";
  merged?: boolean;
  /** The head branch lives in a fork (head.repo.fork = true, another owner). */
  fork?: boolean;
  labels?: string[];
  /**
   * The base branch has commits the head branch lacks. A deployment of `headRef` with auto_merge left on
   * then answers 202 "Auto-merged ..." and creates no deployment, as GitHub does.
   */
  behindBase?: boolean;
}

/** A workflow run as GET /repos/{owner}/{repo}/actions/runs/{run_id} reports it (its latest attempt). */
export interface EmulatedWorkflowRun {
  status: "queued" | "in_progress" | "waiting" | "completed";
  /** Set once completed: success, failure, cancelled, timed_out, … */
  conclusion?: string;
  /** The latest attempt (a re-run starts the next); default 1. */
  attempt?: number;
}

export interface EmulatedComment {
  id: number;
  issueNumber: number;
  body: string;
  user: string;
  createdAt: string;
  updatedAt: string;
}

/** A person's role on the repository (GitHub's role names; custom roles are not emulated). */
export type RepoRole = "admin" | "maintain" | "write" | "triage" | "read";

export interface EmulatedReaction {
  id: number;
  user: string;
  content: string;
  createdAt: string;
}

/** A `labeled`/`unlabeled` entry of an issue's events (GitHub's record of who changed a label). */
export interface EmulatedIssueEvent {
  id: number;
  event: "labeled" | "unlabeled";
  label: string;
  actor: string;
  createdAt: string;
}

/** A fault answered instead of the real route, `count` times, to requests matching `method` and `path`. */
export interface Fault {
  /** HTTP method, case-insensitive; "*" matches any. */
  method: string;
  /** Tested against the request path (with query), in its /repos/{owner}/{repo}/... form. */
  path: RegExp;
  status: number;
  count: number;
  headers?: Record<string, string>;
  /** JSON value, or a string sent as text/html (like the gateway's 502 page). Defaults by status. */
  body?: unknown;
}

export interface EmulatedDeploymentStatus {
  id: number;
  state: string;
  environment_url?: string;
  log_url?: string;
  description?: string;
  environment: string;
  created_at: string;
}

export interface EmulatedDeployment {
  id: number;
  environment: string;
  /** The environment it was created for; a status's `environment` moves `environment` only. */
  original_environment: string;
  ref: string;
  sha: string;
  task: string;
  transient_environment?: boolean;
  production_environment: boolean;
  required_contexts?: string[];
  auto_merge: boolean;
  description: string | null;
  payload?: unknown;
  creator: string;
  created_at: string;
  /** Oldest first (the API lists them newest first). */
  statuses: EmulatedDeploymentStatus[];
}

export interface RecordedRequest {
  method: string;
  /** The token's login (undefined without a known token). */
  actor?: string;
  /** When it arrived (ms since the epoch). */
  at: number;
  /** Request headers, lower-case names. */
  headers: Record<string, string | string[] | undefined>;
  /** Path with query; /repositories/{id}/... (used in Link headers) is shown as /repos/{owner}/{repo}/.... */
  path: string;
  body?: unknown;
  status: number;
}

/** State of a commit status context, as deployments check it when `required_contexts` is omitted. */
export type ContextState = "success" | "pending" | "failure" | "error";

/** A permission a token may hold, as a workflow's `permissions:` block names it. */
export type PermissionName = "pull-requests" | "issues" | "deployments" | "contents" | "metadata" | "actions";
export type PermissionLevel = "none" | "read" | "write";

/** Who a token is, and what it may do (an installation token: the workflow's GITHUB_TOKEN or an App's). */
export interface TokenIdentity {
  /** e.g. "github-actions[bot]", "my-app[bot]", "octocat". */
  login: string;
  /** "installation": GET /user answers 403, as it does for GITHUB_TOKEN; "user": a personal token. */
  kind: "installation" | "user";
  /** Missing entries: read for metadata/contents, write for the rest. */
  permissions?: Partial<Record<PermissionName, PermissionLevel>>;
}

/** Which requests a stall, hold or delay applies to; every field that is set must match. */
export interface RequestMatch {
  method?: string;
  /** Tested against the path with query, in /repos/{owner}/{repo}/... form. */
  path?: RegExp;
  /** Only requests made with this token (each workflow run has its own). */
  token?: string;
  /** Tested against the raw request body text. */
  body?: RegExp;
}

/** A request held before it is answered, until the test releases it. */
export interface HeldRequest {
  /** Resolves when a matching request has arrived and is being held. */
  readonly arrived: Promise<RecordedRequest>;
  release(): void;
}

export interface GitHubEmulatorOptions {
  owner?: string;
  repo?: string;
  token?: string;
  /** Login of `token`; default "github-actions[bot]" (an installation token, as the workflow's). */
  user?: string;
  /** Permissions of `token`; default every write permission (see TokenIdentity.permissions). */
  permissions?: TokenIdentity["permissions"];
  /** Start with writes answering 403, like a fork PR's token. */
  readOnly?: boolean;
  /**
   * Commit status contexts every ref carries. Default { preview: "pending" }: the workflow run that is
   * creating the deployment is itself still pending, so omitting required_contexts gets 409 as on GitHub.
   */
  contexts?: Record<string, ContextState>;
}

export interface GitHubEmulator {
  /** e.g. http://127.0.0.1:PORT (use as Octokit baseUrl / GITHUB_API_URL). */
  readonly url: string;
  readonly owner: string;
  readonly repo: string;
  readonly token: string;
  addPull(pull: EmulatedPull): void;
  setPullState(number: number, state: "open" | "closed", merged?: boolean): void;
  /** Filler comments from other users (default user "octocat"), created in the past. */
  addComments(issueNumber: number, count: number, body?: (i: number) => string, user?: string): void;
  /** Current (not deleted) comments of an issue or PR, oldest first. */
  comments(issueNumber: number): EmulatedComment[];
  deleteComment(id: number): void;
  /** Edit as another actor would (e.g. a newer run). */
  editComment(id: number, body: string): void;
  deployments(): EmulatedDeployment[];
  /** Every request seen, in order; pushed before the response is sent. */
  requests: RecordedRequest[];
  /**
   * Requests that GitHub's OpenAPI description refuses (unknown operation, bad parameter or body), each
   * naming the operation and the schema error. close() fails when there are any.
   */
  readonly violations: string[];
  /** Another token, e.g. a second run's GITHUB_TOKEN, another bot's or a person's. */
  addToken(token: string, identity: TokenIdentity): void;
  /** A comment written by `user` (another person or bot), now. Returns its id. */
  postComment(issueNumber: number, body: string, user: string): number;
  /**
   * `login` adds a label to the PR (as GitHub's UI or an App does): the PR carries it and the issue's events
   * record `labeled` by `login`. The caller also starts the `labeled` run, as GitHub would.
   */
  addLabel(issueNumber: number, label: string, login: string): void;
  /** `login`'s role on the repository (what GET .../collaborators/{username}/permission answers). */
  setRole(login: string, role: RepoRole): void;
  /** The reactions on a comment, oldest first, as `user:content`. */
  reactions(commentId: number): string[];
  failNext(fault: Fault): void;
  setReadOnly(readOnly: boolean): void;
  /**
   * A workflow run GET .../actions/runs/{run_id} answers (by GITHUB_RUN_ID); `undefined` deletes it, so
   * the endpoint answers 404 as for a run deleted or never made.
   */
  setWorkflowRun(runId: string | number, run: EmulatedWorkflowRun | undefined): void;
  /** Change the default token's permissions (a workflow's `permissions:` block). */
  setPermissions(permissions: TokenIdentity["permissions"]): void;
  /** Hold the next matching request until release() (e.g. to interleave two runs' reads and writes). */
  hold(match: RequestMatch): HeldRequest;
  /** Every matching request waits `ms` before it is answered (0 removes the delay). */
  setLatency(ms: number, match?: RequestMatch): void;
  /** Matching requests (all when no match) never answer; `forMs` ends the hang after that long. */
  hang(opts?: { match?: RequestMatch; forMs?: number }): void;
  /** GitHub answers again: later requests are served; those that hung forever stay unanswered (dropped). */
  endHangs(): void;
  /** Every request fails with `status` (default 500) for `forMs` (an outage). */
  outage(forMs: number, status?: number): void;
  /** Requests left in the primary rate limit budget; at 0 every request gets GitHub's 403. */
  setRateLimitRemaining(remaining: number): void;
  /** Set a commit status context on every ref (see GitHubEmulatorOptions.contexts). */
  setContext(context: string, state: ContextState): void;
  close(): Promise<void>;
}

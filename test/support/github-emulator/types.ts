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

export interface EmulatedComment {
  id: number;
  issueNumber: number;
  body: string;
  user: string;
  createdAt: string;
  updatedAt: string;
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
  /** Path with query; /repositories/{id}/... (used in Link headers) is shown as /repos/{owner}/{repo}/.... */
  path: string;
  body?: unknown;
  status: number;
}

/** State of a commit status context, as deployments check it when `required_contexts` is omitted. */
export type ContextState = "success" | "pending" | "failure" | "error";

export interface GitHubEmulatorOptions {
  owner?: string;
  repo?: string;
  token?: string;
  /** Login used for comments and deployments we create; default "github-actions[bot]". */
  user?: string;
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
  failNext(fault: Fault): void;
  setReadOnly(readOnly: boolean): void;
  /** Set a commit status context on every ref (see GitHubEmulatorOptions.contexts). */
  setContext(context: string, state: ContextState): void;
  close(): Promise<void>;
}

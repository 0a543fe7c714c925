import { readFileSync } from "node:fs";

/** The parts of a webhook payload we read. */
interface EventPayload {
  action?: string;
  pull_request?: {
    head?: { repo?: { full_name?: string } | null };
    base?: { repo?: { full_name?: string } };
  };
  issue?: { number?: number; pull_request?: unknown };
  comment?: { id?: number; body?: string; user?: { login?: string } };
}

/** The webhook payload of the event that started the run (GITHUB_EVENT_PATH), or {} when absent. */
export function readEventPayload(env: NodeJS.ProcessEnv): EventPayload {
  try {
    return env.GITHUB_EVENT_PATH ? JSON.parse(readFileSync(env.GITHUB_EVENT_PATH, "utf8")) : {};
  } catch {
    return {};
  }
}

/** A pull_request from a fork runs without secrets: the config must not demand the ngrok token then. */
export function isForkPullRequest(env: NodeJS.ProcessEnv): boolean {
  if (env.GITHUB_EVENT_NAME !== "pull_request") return false;
  const pr = readEventPayload(env).pull_request;
  const head = pr?.head?.repo?.full_name;
  const base = pr?.base?.repo?.full_name;
  // Not `head.repo.fork`: that is also true for same-repo PRs inside a repository that is itself a fork.
  return Boolean(pr && (!head || (base && head !== base)));
}

/** A new comment on a pull request (issue_comment, created): where PR commands come from. */
export interface PullComment {
  readonly prNumber: number;
  readonly comment: { readonly id: number; readonly body: string; readonly login: string };
}

/** The comment of an issue_comment run, when it was just created on a pull request (not an issue, not an edit). */
export function readPullComment(env: NodeJS.ProcessEnv): PullComment | undefined {
  if (env.GITHUB_EVENT_NAME !== "issue_comment") return undefined;
  const { action, issue, comment } = readEventPayload(env);
  if (action !== "created" || !issue?.pull_request || !issue.number || !comment?.id || !comment.user?.login)
    return undefined;
  return {
    prNumber: issue.number,
    comment: { id: comment.id, body: comment.body ?? "", login: comment.user.login },
  };
}

import { readFileSync } from "node:fs";

/** The parts of a webhook payload we read. */
interface EventPayload {
  pull_request?: {
    head?: { repo?: { full_name?: string } | null };
    base?: { repo?: { full_name?: string } };
  };
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

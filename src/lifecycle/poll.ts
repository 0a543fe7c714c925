import parseDuration from "parse-duration";

/** ML_PREVIEW_POLL_INTERVAL: how often a live preview checks the PR and the comment (tests use 1s). */
export function pollIntervalMs(env: NodeJS.ProcessEnv): number {
  const raw = env.ML_PREVIEW_POLL_INTERVAL?.trim();
  const ms = raw ? parseDuration(raw) : null;
  return ms && ms > 0 ? ms : 60_000;
}

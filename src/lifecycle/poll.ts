import parseDuration from "parse-duration";

function envDuration(raw: string | undefined, fallback: number): number {
  const ms = raw?.trim() ? parseDuration(raw.trim()) : null;
  return ms && ms > 0 ? ms : fallback;
}

/** ML_PREVIEW_POLL_INTERVAL: how often a live preview checks the PR and the comment (tests use 1s). */
export function pollIntervalMs(env: NodeJS.ProcessEnv): number {
  return envDuration(env.ML_PREVIEW_POLL_INTERVAL, 60_000);
}

/**
 * ML_PREVIEW_TUNNEL_WATCHDOG: how long the tunnel's session may be down before the preview treats it as lost
 * and opens a fresh one (default 30s; the SDK alone would back off for up to ~104 min).
 */
export function tunnelWatchdogMs(env: NodeJS.ProcessEnv): number {
  return envDuration(env.ML_PREVIEW_TUNNEL_WATCHDOG, 30_000);
}

/**
 * ML_PREVIEW_CLEANUP_PATIENCE: how long clean-up keeps trying to remove the container while the Docker
 * engine does not answer (main: default 2 min, then the post step: default 10 min).
 */
export function cleanupPatienceMs(env: NodeJS.ProcessEnv, fallback: number): number {
  return envDuration(env.ML_PREVIEW_CLEANUP_PATIENCE, fallback);
}

/**
 * Until when a preview may be held: ML_PREVIEW_JOB_LIMIT (default 5h50m, a GitHub-hosted job's 6 h less
 * time for the steps before and the clean-up) after this process started. `/preview extend` stops there.
 */
export function holdLimit(env: NodeJS.ProcessEnv): Date {
  const started = Date.now() - process.uptime() * 1000;
  return new Date(started + envDuration(env.ML_PREVIEW_JOB_LIMIT, (5 * 60 + 50) * 60_000));
}

/**
 * When a preview going live now expires: `duration` after now, but never past the job's limit. The
 * duration counts from live, the job's limit from its start: a long build must not carry the expiry past
 * the moment the runner kills the job (no clean `expired`, the comment left saying "live").
 */
export function previewExpiry(now: number, durationMs: number, limit: Date | undefined): Date {
  return new Date(Math.min(now + durationMs, limit?.getTime() ?? Number.POSITIVE_INFINITY));
}

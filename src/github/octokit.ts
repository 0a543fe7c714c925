import { Octokit } from "octokit";
import type { Logger } from "../log.js";

export type { Octokit } from "octokit";

export interface OctokitOptions {
  /** Default: GITHUB_API_URL (GitHub Enterprise Server sets it), else api.github.com. */
  readonly baseUrl?: string;
  readonly log: Logger;
  /** Tests and benchmarks: no one-second spacing of writes, retry waits in milliseconds instead of seconds. */
  readonly fastRetries?: boolean;
}

/** How many times a request that hit a rate limit is tried again before the error reaches the caller. */
const RATE_LIMIT_RETRIES = 2;
/** A primary limit that resets later than this is not waited for: the preview would be over by then. */
const MAX_RATE_LIMIT_WAIT_S = 120;
/** A request that hangs longer than this fails (and is retried) instead of stalling the preview's loop. */
const REQUEST_TIMEOUT_MS = 30_000;

// The throttling plugin schedules every request through Bottleneck groups shared module-wide: `global`
// (at most 10 in flight), `write` (1 s apart) and `notifications` (comment creations 3 s apart). The plugin
// only ever calls key(id).schedule(options, fn, ...args) on them, so a pass-through can stand in for one.
// `global` is always passed through: a preview never has 10 requests in flight, and the group's timer
// hops cost ~5 ms per request on the path to the live comment. For fastRetries the write spacing goes too.
const passThrough = {
  key: () => ({
    schedule: (_options: unknown, fn: (...args: unknown[]) => unknown, ...args: unknown[]) =>
      Promise.resolve().then(() => fn(...args)),
  }),
};

/** Octokit with the retry (5xx, network) and throttling (rate limits) plugins, logging through `log`. */
export function createOctokit(token: string, opts: OctokitOptions): Octokit {
  const { log } = opts;
  const baseUrl = (opts.baseUrl || process.env.GITHUB_API_URL || "https://api.github.com").replace(
    /\/+$/,
    "",
  );
  const onLimit =
    (kind: string) =>
    (
      retryAfter: number,
      options: { method?: string; url?: string },
      _octokit: unknown,
      retryCount: number,
    ) => {
      const retry =
        retryCount < RATE_LIMIT_RETRIES && (opts.fastRetries || retryAfter <= MAX_RATE_LIMIT_WAIT_S);
      log.warning(
        `GitHub ${kind} rate limit on ${options.method} ${options.url}; ` +
          (retry
            ? `retrying in ${retryAfter} s (${retryCount + 1} of ${RATE_LIMIT_RETRIES}).`
            : "giving up."),
      );
      return retry;
    };
  const baseValue = opts.fastRetries ? 10 : 1000;
  return new Octokit({
    auth: token,
    baseUrl,
    userAgent: "ml-preview",
    log: {
      debug: (message: string) => log.debug(message),
      info: (message: string) => log.debug(message),
      warn: (message: string) => log.warning(message),
      error: (message: string) => log.warning(message),
    },
    request: { fetch: fetchWithTimeout },
    retry: { retryAfterBaseValue: baseValue },
    throttle: {
      onRateLimit: onLimit("primary"),
      onSecondaryRateLimit: onLimit("secondary"),
      retryAfterBaseValue: baseValue,
      global: passThrough as never,
      ...(opts.fastRetries ? { write: passThrough as never, notifications: passThrough as never } : {}),
    },
  });
}

function fetchWithTimeout(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  return fetch(input, { ...init, signal: init?.signal ?? AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
}

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

/** The REST API version every request asks for: answers keep the shape this code was written against. */
export const GITHUB_API_VERSION = "2022-11-28";
/** GitHub's advice when a secondary rate limit answer has no retry-after: wait at least a minute. */
const SECONDARY_FALLBACK_S = 60;

/** Octokit with the retry (5xx, network) and throttling (rate limits) plugins, logging through `log`. */
export function createOctokit(token: string, opts: OctokitOptions): Octokit {
  const { log } = opts;
  const baseValue = opts.fastRetries ? 10 : 1000;
  // After a secondary rate limit no request of ours starts before retry-after has passed, as GitHub asks
  // of integrations (the throttling plugin only delays the retry of the request that was limited).
  let quietUntil = 0;
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
      if (kind === "secondary")
        quietUntil = Math.max(quietUntil, Date.now() + Math.max(retryAfter, 1) * baseValue);
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
  const octokit = new Octokit({
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
      fallbackSecondaryRateRetryAfter: SECONDARY_FALLBACK_S,
      retryAfterBaseValue: baseValue,
      global: passThrough as never,
      ...(opts.fastRetries ? { write: passThrough as never, notifications: passThrough as never } : {}),
    },
  });
  // Registered last, so it wraps the plugins: runs once per call, before any of its retries.
  octokit.hook.wrap("request", async (request, options) => {
    options.headers["x-github-api-version"] = GITHUB_API_VERSION;
    const wait = quietUntil - Date.now();
    if (wait > 0) await quiet(wait, (options.request as { signal?: AbortSignal } | undefined)?.signal);
    return request(options);
  });
  return octokit;
}

/** Waits `ms`, or rejects when `signal` aborts first (the preview ended). */
function quiet(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

async function fetchWithTimeout(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
  try {
    return await fetch(input, {
      ...init,
      signal: init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout,
    });
  } catch (err) {
    // fetch rejects with the signal's reason, which @octokit/request wraps as a network error (status 500)
    // that the retry plugin tries again (1 s, 4 s, 9 s): a cancelled preview would sit out those waits with
    // its clean-up behind them. An abort the caller asked for is an AbortError, which nothing retries.
    if (!init?.signal?.aborted) throw err;
    const reason = init.signal.reason as { message?: string } | undefined;
    throw Object.assign(new Error(`GitHub request aborted: ${reason?.message ?? String(reason)}`), {
      name: "AbortError",
      cause: err,
    });
  }
}

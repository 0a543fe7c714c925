import Bottleneck from "bottleneck";
import { Octokit } from "octokit";
import type { GitHubEmulator } from "./types.js";

type LimitHandler = (
  retryAfter: number,
  options: { method: string; url: string },
  octokit: unknown,
  retryCount: number,
) => boolean | undefined;

/**
 * Throttle options that keep Octokit's throttling plugin on (rate-limit handlers still fire) but drop its
 * spacing: by default every write waits 1 s after the previous one and every comment create 3 s, in limiter
 * groups shared by all Octokit instances of the process. Per-instance `write`/`notifications`/`search`
 * groups with minTime 0 replace those; `retryAfterBaseValue: 10` turns "retry-after: 1" into 10 ms.
 */
export function fastThrottle() {
  const group = () => new Bottleneck.Group({ maxConcurrent: 1, minTime: 0 });
  return { write: group(), notifications: group(), search: group(), retryAfterBaseValue: 10 };
}

export interface EmulatorOctokitOptions {
  token?: string;
  onRateLimit?: LimitHandler;
  onSecondaryRateLimit?: LimitHandler;
  /** Retries of 5xx answers by the retry plugin (default 3, 10 ms × n² apart). */
  retries?: number;
}

/** Octokit's own default: retry once, then give up. */
const retryOnce: LimitHandler = (_after, _options, _octokit, retryCount) => retryCount === 0;

/** A real Octokit (with its retry and throttling plugins) pointed at the emulator, tuned to be fast. */
export function emulatorOctokit(emulator: GitHubEmulator, opts: EmulatorOctokitOptions = {}): Octokit {
  return new Octokit({
    auth: opts.token ?? emulator.token,
    baseUrl: emulator.url,
    log: { debug() {}, info() {}, warn() {}, error() {} },
    throttle: {
      ...fastThrottle(),
      onRateLimit: opts.onRateLimit ?? retryOnce,
      onSecondaryRateLimit: opts.onSecondaryRateLimit ?? retryOnce,
    },
    retry: { retries: opts.retries ?? 3, retryAfterBaseValue: 10 },
  });
}

import { httpAnswer } from "../../http.js";
import { pollUntilReady } from "./poll.js";
import type { ProbeOutcome, ReadinessContext, ReadinessStrategy } from "./types.js";

export interface HttpTarget {
  /** e.g. http://127.0.0.1:49153 */
  readonly baseUrl: string;
  /** e.g. /_stcore/health */
  readonly path: string;
  /** One attempt gives up after this; a loading app may accept and answer slowly. */
  readonly attemptTimeoutMs?: number;
}

const DEFAULT_ATTEMPT_TIMEOUT_MS = 2000;

/**
 * Ready when GET `path` answers 2xx or 3xx (redirects are not followed: a login redirect means the app
 * serves). A reset or refused connection means nothing listens yet — through Docker's port proxy, an
 * unready app looks like a connection that is accepted and then reset.
 */
export function httpStrategy(target: HttpTarget): ReadinessStrategy {
  const url = new URL(target.path, target.baseUrl);
  const timeoutMs = target.attemptTimeoutMs ?? DEFAULT_ATTEMPT_TIMEOUT_MS;
  return {
    name: `http GET ${target.path}`,
    until: (ctx) => pollUntilReady(ctx, (signal) => probeHttp(url, timeoutMs, signal, ctx)),
  };
}

export async function probeHttp(
  url: URL,
  timeoutMs: number,
  signal: AbortSignal,
  ctx: Pick<ReadinessContext, "note">,
): Promise<ProbeOutcome> {
  const answer = await httpAnswer(url, timeoutMs, signal);
  if ("status" in answer) {
    if (answer.status >= 200 && answer.status < 400) return "ready";
    ctx.note(`GET ${url.pathname} answered ${answer.status}`);
    return "up";
  }
  if (answer.silent) {
    ctx.note(`GET ${url.pathname} did not answer within ${timeoutMs} ms`);
    return "up";
  }
  ctx.note(`nothing answers on port ${url.port} yet (${answer.error})`);
  return "down";
}

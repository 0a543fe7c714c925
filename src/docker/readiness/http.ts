import { request } from "node:http";
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

export function probeHttp(
  url: URL,
  timeoutMs: number,
  signal: AbortSignal,
  ctx: Pick<ReadinessContext, "note">,
): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    // A fresh connection each time (no agent): a kept-alive socket to the proxy would hide a restart.
    const req = request(url, {
      method: "GET",
      agent: false,
      signal,
      headers: { "user-agent": "ml-preview" },
    });
    req.setTimeout(timeoutMs, () => {
      ctx.note(`GET ${url.pathname} did not answer within ${timeoutMs} ms`);
      req.destroy();
      resolve("up");
    });
    req.once("response", (res) => {
      const status = res.statusCode ?? 0;
      res.destroy();
      if (status >= 200 && status < 400) return resolve("ready");
      ctx.note(`GET ${url.pathname} answered ${status}`);
      resolve("up");
    });
    req.once("error", (err: NodeJS.ErrnoException) => {
      ctx.note(`nothing answers on port ${url.port} yet (${err.code ?? err.message})`);
      resolve("down");
    });
    req.end();
  });
}

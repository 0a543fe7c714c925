import { faultBody, type Reply } from "./replies.js";
import type { Fault } from "./types.js";

/** Faults waiting to be answered, first match first, each used up after `count` requests. */
export class FaultQueue {
  private readonly pending: Fault[] = [];

  add(fault: Fault): void {
    if (!Number.isInteger(fault.count) || fault.count < 1)
      throw new Error("Fault.count must be a positive integer");
    this.pending.push({ ...fault });
  }

  take(method: string, path: string): Reply | undefined {
    for (const f of this.pending) f.path.lastIndex = 0; // a /g regex would otherwise remember its last match
    const i = this.pending.findIndex(
      (f) => (f.method === "*" || f.method.toUpperCase() === method) && f.path.test(path),
    );
    const fault = this.pending[i];
    if (!fault) return undefined;
    fault.count -= 1;
    if (fault.count === 0) this.pending.splice(i, 1);
    return { status: fault.status, body: fault.body ?? faultBody(fault.status), headers: fault.headers };
  }
}

/** GitHub's secondary rate limit: 403, retry-after, and the message Octokit's throttling plugin looks for. */
export function secondaryRateLimit(method: string, path: RegExp, retryAfterSeconds = 1, count = 1): Fault {
  return { method, path, status: 403, count, headers: { "retry-after": String(retryAfterSeconds) } };
}

/** The primary rate limit: 403 with x-ratelimit-remaining 0 and a reset time `resetInSeconds` away. */
export function primaryRateLimit(method: string, path: RegExp, resetInSeconds = 1, count = 1): Fault {
  const reset = Math.ceil(Date.now() / 1000) + resetInSeconds;
  return {
    method,
    path,
    status: 403,
    count,
    headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(reset) },
    body: {
      message: "API rate limit exceeded for installation ID 1.",
      documentation_url: "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
      status: "403",
    },
  };
}

import { setTimeout as delay } from "node:timers/promises";
import { PreviewError, type PreviewStep } from "../errors.js";
import type { Logger } from "../log.js";

/** Throws a PreviewError when the caller (a stop signal) aborted the step. */
export function abortable(signal: AbortSignal | undefined, step: PreviewStep): void {
  if (signal?.aborted) {
    throw new PreviewError(step, `The ${step} step was cancelled.`, {
      code: "ABORTED",
      cause: signal.reason,
    });
  }
}

/** Wait, ending early (without throwing) when the signal aborts; callers check `abortable` next. */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  await delay(ms, undefined, { signal }).catch(() => undefined);
}

/** Wait for `work` at most `ms`; a failure or the timeout is only worth a debug line (used for clean-up). */
export async function settleWithin(
  ms: number,
  work: Promise<void>,
  log: Logger,
  what: string,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve("timed out"), ms);
  });
  const outcome = await Promise.race([
    work.then(
      () => "",
      (err: unknown) => (err instanceof Error ? err.message : String(err)),
    ),
    timeout,
  ]);
  clearTimeout(timer);
  if (outcome !== "") log.debug(`${what}: ${outcome}`);
}

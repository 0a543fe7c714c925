import type { AppContainer } from "../types.js";
import type { ReadinessStrategy } from "./types.js";

const TAIL_POLL_MS = 250;

/**
 * Ready when a log line matches `pattern` (lines already printed count). It trusts the app's word, so it
 * is for apps that print a line only once they truly serve; the default plan uses HTTP instead.
 */
export function logPatternStrategy(
  app: Pick<AppContainer, "tail" | "onLogLine">,
  pattern: RegExp,
): ReadinessStrategy {
  // A /g or /y pattern keeps state between test() calls; matching must not depend on earlier lines.
  const matcher = new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ""));
  const test = (line: string) => matcher.test(line);
  return {
    name: `log /${pattern.source}/`,
    until: (ctx) =>
      new Promise<void>((resolve, reject) => {
        let timer: NodeJS.Timeout | undefined;
        let unsubscribe: (() => void) | undefined;
        const finish = (error?: unknown) => {
          unsubscribe?.();
          clearTimeout(timer);
          ctx.signal.removeEventListener("abort", onAbort);
          if (error === undefined) resolve();
          else reject(error);
        };
        const onAbort = () => finish(ctx.signal.reason);
        if (ctx.signal.aborted) return onAbort();
        ctx.signal.addEventListener("abort", onAbort, { once: true });
        unsubscribe = app.onLogLine?.((line) => {
          if (test(line)) finish();
        });
        ctx.note(`no log line matches /${pattern.source}/ yet`);
        // Lines printed before we subscribed, and the fallback for an AppContainer without onLogLine.
        const scan = async () => {
          if ((await app.tail(Number.MAX_SAFE_INTEGER)).some(test)) return finish();
          if (!unsubscribe && !ctx.signal.aborted) timer = setTimeout(scan, TAIL_POLL_MS);
        };
        void scan();
      }),
  };
}

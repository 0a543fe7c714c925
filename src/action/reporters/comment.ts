import type { PreviewState } from "../../config/types.js";
import type { FinalWriteBudget, StickyComment } from "../../github/comment.js";
import { FINAL_STATES, type PreviewEvent, type Reporter } from "../../lifecycle/types.js";
import type { Logger } from "../../log.js";

export interface CommentReporter extends Reporter {
  /** The last state the comment really shows (a failed write leaves the previous one). */
  readonly written: () => PreviewState | undefined;
  /** Resolves once every state handed over so far is written (or failed), or after `maxMs`. */
  readonly settled: (maxMs: number) => Promise<void>;
}

/**
 * The sticky PR comment: every state, never the intermediate `ready` event. The preview never waits on a
 * comment write: a state is handed to one writer in the background, and a state that arrives while another
 * is being written replaces any not yet sent (the latest state wins). Only a final state is waited for, so
 * the comment shows how the preview ended before the step does. A write in flight is never aborted for a
 * newer state: an aborted request may still land at GitHub after the next one and show the older state.
 * A final state is retried while GitHub fails, within `finalBudget()` (what the step has left; none by default).
 */
export function commentReporter(
  comment: StickyComment,
  log: Logger,
  finalBudget: () => FinalWriteBudget = () => ({ untilMs: 0 }),
): CommentReporter {
  let written: PreviewState | undefined;
  let next: PreviewEvent | undefined;
  let superseded = false;
  let running = false;
  let writing: Promise<void> = Promise.resolve();

  async function drain(): Promise<void> {
    try {
      while (next) {
        const e = next;
        next = undefined;
        try {
          const report = { state: e.event as PreviewState, details: e.details };
          const answer = FINAL_STATES.includes(report.state)
            ? await comment.reportFinal(report, finalBudget())
            : await comment.report(report);
          if (answer === "superseded") superseded = true;
          else if (answer === "written") written = e.event as PreviewState;
        } catch (err) {
          log.warning(`Could not update the pull request comment: ${(err as Error).message}`);
        }
      }
    } finally {
      running = false;
    }
  }

  return {
    name: "pull request comment",
    written: () => written,
    async settled(maxMs) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, maxMs)));
      await Promise.race([writing, late]);
      clearTimeout(timer);
    },
    async report(e: PreviewEvent) {
      if (e.event === "ready") return;
      if (superseded) return "superseded";
      next = e;
      if (!running) {
        running = true;
        writing = drain();
      }
      if (FINAL_STATES.includes(e.event as PreviewState)) await writing;
      return superseded ? "superseded" : undefined;
    },
  };
}

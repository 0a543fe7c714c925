import type { PreviewState } from "../../config/types.js";
import type { StickyComment } from "../../github/index.js";
import type { PreviewEvent, Reporter } from "../../lifecycle/reporter.js";

export interface CommentReporter extends Reporter {
  /** The last state the comment really shows (a failed write leaves the previous one). */
  readonly written: () => PreviewState | undefined;
}

/** The sticky PR comment: every state, never the intermediate `ready` event. */
export function commentReporter(comment: StickyComment): CommentReporter {
  let written: PreviewState | undefined;
  return {
    name: "pull request comment",
    written: () => written,
    async report(e: PreviewEvent) {
      if (e.event === "ready") return;
      const answer = await comment.report({ state: e.event as PreviewState, details: e.details });
      if (answer === "superseded") return "superseded";
      written = e.event as PreviewState;
    },
  };
}

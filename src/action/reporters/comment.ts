import type { PreviewState } from "../../config/types.js";
import type { StickyComment } from "../../github/index.js";
import type { PreviewEvent, Reporter } from "../../lifecycle/reporter.js";

/** The sticky PR comment: every state, never the intermediate `ready` event. */
export function commentReporter(comment: StickyComment): Reporter {
  return {
    name: "pull request comment",
    async report(e: PreviewEvent) {
      if (e.event === "ready") return;
      const answer = await comment.report({ state: e.event as PreviewState, details: e.details });
      return answer === "superseded" ? "superseded" : undefined;
    },
  };
}

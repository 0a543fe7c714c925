import * as core from "@actions/core";
import { renderSummary } from "../../github/summary.js";
import type { RunContext } from "../../github/types.js";
import type { PreviewEvent, Reporter } from "../../lifecycle/types.js";
import { FINAL_STATES } from "../../lifecycle/types.js";

export interface OutputIds {
  readonly commentId?: () => number | undefined;
}

/** Step outputs when live and at the end; the job summary once, at the end (or when the step returns live). */
export function outputsReporter(
  run: RunContext,
  name: string,
  ids: OutputIds,
  opts: { summaryOnLive: boolean; secrets: readonly string[] },
): Reporter {
  return {
    name: "step outputs and summary",
    async report(e: PreviewEvent) {
      const final = FINAL_STATES.includes(e.event as never);
      if (e.event !== "live" && !final) return;
      setOutputs(e, undefined, ids.commentId?.());
      if (final || opts.summaryOnLive) await writeSummary(e, { name, run, secrets: opts.secrets });
    },
  };
}

export function setOutputs(e: PreviewEvent, imageId?: string, commentId?: number): void {
  const d = e.details;
  core.setOutput("status", e.event);
  core.setOutput("url", d.url ?? "");
  core.setOutput("local-url", d.localUrl ?? "");
  core.setOutput("expires-at", d.expiresAt ? d.expiresAt.toISOString() : "");
  core.setOutput("container-id", d.containerId ?? "");
  core.setOutput("image-id", d.imageId ?? imageId ?? "");
  core.setOutput("comment-id", commentId === undefined ? "" : String(commentId));
}

/** The job summary for this event (the step's one summary: written once). */
export async function writeSummary(
  e: PreviewEvent,
  ctx: { name: string; run: RunContext; secrets: readonly string[] },
): Promise<void> {
  await core.summary.addRaw(renderSummary({ state: e.event as never, details: e.details }, ctx)).write();
}

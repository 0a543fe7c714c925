import * as core from "@actions/core";
import type { PreviewState } from "../config/types.js";
import type { FinalWriteBudget, StickyComment } from "../github/comment.js";
import type { PreviewDeployment } from "../github/deployment.js";
import type { RunContext } from "../github/pull-request.js";
import { renderSummary } from "../github/summary.js";
import { FINAL_STATES, type PreviewEvent, type Reporter } from "../lifecycle/types.js";
import type { Logger } from "../log.js";

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

/** A GitHub Deployment: in_progress while building, success with the URL when live, inactive at the end. */
export function deploymentReporter(deployment: PreviewDeployment): Reporter {
  return {
    name: "deployment",
    async report(e: PreviewEvent) {
      if (e.event === "building") await deployment.start();
      else if (e.event === "live" && e.details.url) await deployment.live(e.details.url);
      else if (FINAL_STATES.includes(e.event as never) && e.event !== "skipped")
        await deployment.end(e.event as never);
    },
  };
}

/** One readable line per event in the log. */
export function logReporter(log: Logger): Reporter {
  return {
    name: "log",
    async report({ event, details: d }: PreviewEvent) {
      const line: Record<string, string | undefined> = {
        building: "Building the preview…",
        starting: `Starting ${d.image ?? "the app"}…`,
        ready: `The app answers at ${d.localUrl}.`,
        live: `Preview live: ${d.url ?? d.localUrl}${d.expiresAt ? ` until ${d.expiresAt.toISOString()}` : ""}`,
        expired: `Preview expired: ${d.reason ?? ""}`,
        stopped: `Preview stopped: ${d.reason ?? ""}`,
        superseded: `Preview superseded: ${d.reason ?? ""}`,
        failed: `Preview failed at ${d.step ?? "?"}: ${d.error ?? ""}`,
        skipped: `Preview skipped: ${d.reason ?? ""}`,
      };
      log.info(line[event] ?? event);
    },
  };
}

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

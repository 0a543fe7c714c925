import { appendFileSync, existsSync, readFileSync } from "node:fs";
import type { StateDetails } from "../github/types.js";
import type { PreviewEvent, PreviewEventName, Reporter } from "../lifecycle/reporter.js";

/** One line per event, so the step that started a detached holder (and the post step) can follow it. */
export interface EventLine {
  readonly event: PreviewEventName;
  readonly details: StateDetails;
  readonly commentId?: number;
  /** So the post step can still end the deployment when the holder could not (it was killed). */
  readonly deploymentId?: number;
  /** The state the comment showed for sure when the event was written: the post step repairs a final one. */
  readonly commentShows?: string;
}

export function eventsFileReporter(
  path: string,
  ids: () => { commentId?: number; deploymentId?: number; commentShows?: string },
): Reporter {
  return {
    name: "event file",
    async report(e: PreviewEvent) {
      appendFileSync(path, `${JSON.stringify({ event: e.event, details: e.details, ...ids() })}\n`);
    },
  };
}

const DATE_FIELDS = ["expiresAt", "startedAt", "at"] as const;

export function readEvents(path: string): EventLine[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .flatMap((l) => {
      try {
        const e = JSON.parse(l) as {
          event: PreviewEventName;
          details: Record<string, unknown>;
          commentId?: number;
          deploymentId?: number;
          commentShows?: string;
        };
        for (const f of DATE_FIELDS)
          if (typeof e.details[f] === "string") e.details[f] = new Date(e.details[f] as string);
        return [e as EventLine];
      } catch {
        return []; // a line being written right now
      }
    });
}

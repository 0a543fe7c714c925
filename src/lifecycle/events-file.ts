import { appendFileSync, existsSync, fstatSync, readFileSync, readSync } from "node:fs";
import type { StateDetails } from "./types.js";
import { FINAL_STATES, type PreviewEvent, type PreviewEventName, type Reporter } from "./types.js";

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

export function readEventsFile(path: string): EventLine[] {
  if (!existsSync(path)) return [];
  return parseEventLines(readFileSync(path, "utf8"));
}

/** An events file's text as events; a last line still being written is left out. */
export function parseEventLines(text: string): EventLine[] {
  return text
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

/**
 * Follows the events file of a detached holder (the Action's `wait: false`, the CLI's `--detach`) until the
 * preview is live or over; undefined when the holder exited without either. `onTick` runs on each look.
 */
export async function followUntilLive(
  path: string,
  holderExited: Promise<unknown>,
  onTick: () => void = () => {},
): Promise<EventLine | undefined> {
  let gone = false;
  for (;;) {
    onTick();
    const last = readEventsFile(path)
      .filter((e) => e.event === "live" || FINAL_STATES.includes(e.event as never))
      .at(-1);
    if (last) return last;
    if (gone) return undefined;
    // One more look after the holder exits: it may have written its last line just before.
    gone = await Promise.race([
      holderExited.then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), 50)),
    ]);
  }
}

/**
 * The bytes of an open file from `offset` to its end as it is now: how a follower reads what a holder has
 * appended to its events file or log since the last look.
 */
export function bytesFrom(fd: number, offset: number): Buffer {
  const size = fstatSync(fd).size;
  if (size <= offset) return Buffer.alloc(0);
  const buf = Buffer.alloc(size - offset);
  let got = 0;
  while (got < buf.length) {
    const n = readSync(fd, buf, got, buf.length - got, offset + got);
    if (n === 0) break;
    got += n;
  }
  return buf.subarray(0, got);
}

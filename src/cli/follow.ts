import { closeSync, rmSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { bytesFrom, type EventLine, parseEventLines } from "../lifecycle/events-file.js";
import { FINAL_STATES } from "../lifecycle/types.js";
import { errorWords, humanReporter, jsonReporter, type Terminal } from "./reporters.js";

/**
 * A `--detach` holder as the command that started it sees it. The holder removes its log and events file
 * when it ends (a preview that fails at once ends before it is followed): this side reads both through
 * descriptors it opened before the holder could run, which outlive the names.
 */
export interface Holder {
  readonly pid: number;
  readonly name: string;
  readonly log: string;
  readonly logFd: number;
  readonly events: string;
  readonly eventsFd: number;
  /** The holder's exit code (null: killed by a signal). */
  readonly exited: Promise<number | null>;
}

export interface FollowIo {
  readonly json: boolean;
  readonly command: "up" | "share";
  readonly tunnel: boolean;
  readonly term: Terminal;
  readonly out: (t: string) => void;
  readonly err: (t: string) => void;
  readonly outJson: (t: string) => void;
}

const LOOK_EVERY_MS = 100;

/**
 * Follows a holder until the preview is live or over, reporting what the foreground run would: for people,
 * its output as it comes (from the log), for --json only the final event on stdout. Exit code: 0 live,
 * 1 failed (or the holder's own code when it ended without an event, e.g. 2 for bad input).
 */
export async function followHolder(h: Holder, io: FollowIo): Promise<number> {
  const tail = logTail(h.logFd, io);
  let code: number | null | undefined;
  void h.exited.then((c) => {
    code = c;
  });
  try {
    for (;;) {
      // Read whether it had exited before reading the events: its last line is then surely in.
      const gone = code !== undefined;
      const last = parseEventLines(readAll(h.eventsFd, 0))
        .filter((e) => e.event === "live" || FINAL_STATES.includes(e.event as never))
        .at(-1);
      if (last) return await ended(h, io, last, tail);
      if (!io.json) tail.more();
      if (gone) return endedSilently(h, io, code ?? null, tail);
      await Promise.race([h.exited, sleep(LOOK_EVERY_MS)]);
    }
  } catch (e) {
    io.err(`ml-preview: lost track of the background preview (${(e as Error).message}); see ${h.log}.\n`);
    return 1;
  } finally {
    closeSync(h.logFd);
    closeSync(h.eventsFd);
  }
}

async function ended(h: Holder, io: FollowIo, last: EventLine, tail: LogTail): Promise<number> {
  const d = last.details;
  if (last.event === "live") {
    if (!io.json) tail.more();
    const report = io.json
      ? jsonReporter(io.outJson)
      : humanReporter(io.out, io.err, io.term, { tunnel: io.tunnel, detachedName: h.name });
    await report.report({ event: last.event, details: d });
    if (!io.json)
      io.err(
        `Held in the background (pid ${h.pid}, log ${h.log}). End it with \`ml-preview down ${h.name}\`.\n`,
      );
    return 0;
  }
  if (io.json) {
    await jsonReporter(io.outJson, io).report({ event: last.event, details: d });
    // stdout is for programs; stderr still says why, for the person reading a notebook's exception.
    io.err(`ml-preview: ${failureWords(last, io)}\n`);
  } else tail.more();
  cleanUp(h);
  return 1;
}

function failureWords({ event, details: d }: EventLine, io: FollowIo): string {
  if (event !== "failed")
    return `the preview ended before it was live: ${event}${d.reason ? ` (${d.reason})` : ""}.`;
  const code = d.exitCode !== undefined ? ` (exit code ${d.exitCode})` : "";
  return `the preview failed at ${d.step}: ${errorWords(d, io)}${code}`;
}

/** The holder ended without a final event (bad input, a crash): its own output says why. */
function endedSilently(h: Holder, io: FollowIo, code: number | null, tail: LogTail): number {
  if (io.json) tail.all();
  else tail.more();
  io.err(
    `ml-preview: the background preview ended before it was live${code === null ? " (killed)" : ` (exit code ${code})`}; its output is above.\n`,
  );
  cleanUp(h);
  return code === 2 ? 2 : 1;
}

/** Nothing stays behind a preview that never was live: the holder may not have got to remove these. */
function cleanUp(h: Holder): void {
  rmSync(h.log, { force: true });
  rmSync(h.events, { force: true });
}

interface LogTail {
  /** Prints the complete lines written since the last call, never the holder's own live block. */
  more(): void;
  /** --json: the holder's lines that are not JSON events (its warnings and errors), all at once. */
  all(): void;
}

function logTail(fd: number, io: FollowIo): LogTail {
  let printed = 0;
  return {
    more() {
      const text = readAll(fd, printed);
      let upTo = text.lastIndexOf("\n") + 1;
      // The holder prints the URL too (just before its events file says live): this side prints it
      // instead, with how to end a detached preview. Nothing of the holder's comes after it.
      const live = /^\n? {2}Preview live: /m.exec(text.slice(0, upTo));
      if (live) upTo = live.index;
      if (upTo === 0) return;
      io.err(text.slice(0, upTo));
      printed += Buffer.byteLength(text.slice(0, upTo));
    },
    all() {
      const lines = readAll(fd, 0)
        .split("\n")
        .filter((l) => l.trim() !== "" && !l.startsWith("{"));
      if (lines.length > 0) io.err(`${lines.join("\n")}\n`);
    },
  };
}

/** The file behind fd from byte `from` to its current end. */
const readAll = (fd: number, from: number) => bytesFrom(fd, from).toString("utf8");

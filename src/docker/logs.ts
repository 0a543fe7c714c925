import { Readable, Writable } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import type Docker from "dockerode";
import { secretScrubber, truncate } from "../scrub.js";

/** Lines kept in memory per container: enough for a failure report, bounded for a 5-hour preview. */
export const LOG_RING_LINES = 200;
/** Longer lines are cut: one base64 blob must not fill the ring's memory. */
const MAX_LINE_CHARS = 4096;

type LineListener = (line: string) => void;

/**
 * The last lines a container printed, stdout and stderr interleaved in arrival order, split into lines
 * per stream (so a partial stdout line never merges with stderr), secrets scrubbed before storing.
 */
export class LogRing {
  private readonly lines: string[] = [];
  private readonly partial = { stdout: "", stderr: "" };
  private readonly decoders = { stdout: new StringDecoder("utf8"), stderr: new StringDecoder("utf8") };
  private readonly listeners = new Set<LineListener>();
  private readonly scrub: (text: string) => string;

  constructor(
    secrets: readonly string[],
    private readonly capacity = LOG_RING_LINES,
  ) {
    this.scrub = secretScrubber(secrets);
  }

  write(stream: "stdout" | "stderr", chunk: Buffer): void {
    const text = this.partial[stream] + this.decoders[stream].write(chunk);
    const parts = text.split("\n");
    let rest = parts.pop() ?? "";
    for (const line of parts) this.push(line);
    // A line that never ends (a progress bar without \n) is cut rather than growing without bound.
    if (rest.length > MAX_LINE_CHARS * 2) {
      this.push(rest);
      rest = "";
    }
    this.partial[stream] = rest;
  }

  /** The stream ended: unterminated last lines count as lines. */
  end(): void {
    for (const stream of ["stdout", "stderr"] as const) {
      const rest = this.partial[stream] + this.decoders[stream].end();
      this.partial[stream] = "";
      if (rest.length > 0) this.push(rest);
    }
  }

  /** Start over from the engine's own copy of the log (the attach stream broke: lines may be missing). */
  reset(): void {
    this.lines.length = 0;
    this.partial.stdout = this.partial.stderr = "";
  }

  /** The last `n` lines, including a line still being written. */
  tail(n: number): string[] {
    const pending = (["stdout", "stderr"] as const)
      .map((s) => this.partial[s])
      .filter((p) => p.length > 0)
      .map((p) => this.clean(p));
    const all = [...this.lines, ...pending];
    return n <= 0 ? [] : all.slice(-n);
  }

  /** Called with each new complete line (scrubbed); returns the unsubscribe function. */
  onLine(listener: LineListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private push(raw: string): void {
    const line = this.clean(raw);
    this.lines.push(line);
    if (this.lines.length > this.capacity) this.lines.splice(0, this.lines.length - this.capacity);
    for (const listener of this.listeners) listener(line);
  }

  /** What a terminal would show: the text after the last \r (progress bars), cut to a sane length. */
  private clean(raw: string): string {
    const trimmed = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    const shown = trimmed.slice(trimmed.lastIndexOf("\r") + 1);
    return truncate(this.scrub(shown), MAX_LINE_CHARS, "…");
  }
}

/**
 * Attaches to the container's output (before start, so no line is missed) and feeds the ring.
 * The attach stream is multiplexed (8-byte headers: stream type + length) because there is no TTY;
 * docker-modem's demuxStream splits it. Resolves `ended` when the container's output closes.
 */
export async function attachLogs(
  docker: Docker,
  container: Docker.Container,
  ring: LogRing,
): Promise<{ ended: Promise<void> }> {
  const stream = (await container.attach({
    stream: true,
    stdout: true,
    stderr: true,
    logs: false,
  })) as NodeJS.ReadableStream;
  docker.modem.demuxStream(stream, ringSink(ring, "stdout"), ringSink(ring, "stderr"));
  const ended = new Promise<void>((resolve) => {
    const finish = () => {
      ring.end();
      resolve();
    };
    stream.once("end", finish);
    stream.once("close", finish);
    stream.once("error", finish);
  });
  return { ended };
}

/**
 * Refills the ring from the engine's log of the container (its last LOG_RING_LINES lines), for when the
 * attach stream broke with an engine outage: what the app printed meanwhile is only in the engine's copy.
 */
export async function refillFromEngine(
  docker: Docker,
  container: Docker.Container,
  ring: LogRing,
): Promise<void> {
  const raw = (await container.logs({
    follow: false,
    stdout: true,
    stderr: true,
    tail: LOG_RING_LINES,
  })) as unknown as Buffer;
  ring.reset();
  const done = new Promise<void>((resolve) => {
    const stream = Readable.from([raw]);
    docker.modem.demuxStream(stream, ringSink(ring, "stdout"), ringSink(ring, "stderr"));
    stream.once("end", resolve);
  });
  await done;
  ring.end();
}

function ringSink(ring: LogRing, name: "stdout" | "stderr"): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      ring.write(name, chunk);
      done();
    },
  });
}

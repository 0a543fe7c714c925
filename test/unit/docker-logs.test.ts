import { PassThrough } from "node:stream";
import Docker from "dockerode";
import { describe, expect, it } from "vitest";
import { LogRing } from "../../src/docker/logs.js";
import { secretScrubber } from "../../src/scrub.js";

/** One frame of Docker's multiplexed stream: [type, 0, 0, 0, len(4 bytes BE)] + payload. */
function frame(type: 1 | 2, text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header.writeUInt8(type, 0);
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

describe("LogRing", () => {
  it("demuxes Docker's 8-byte-header stream with docker-modem, even when frames split across chunks", async () => {
    const ring = new LogRing([]);
    const raw = new PassThrough();
    const sink = (name: "stdout" | "stderr") => {
      const s = new PassThrough();
      s.on("data", (chunk: Buffer) => ring.write(name, chunk));
      return s;
    };
    new Docker().modem.demuxStream(raw, sink("stdout"), sink("stderr"));
    const bytes = Buffer.concat([
      frame(1, "hello "),
      frame(2, "oops\n"),
      frame(1, "world\nsecond"),
      frame(1, " line\n"),
    ]);
    for (let i = 0; i < bytes.length; i += 5) raw.write(bytes.subarray(i, i + 5));
    await new Promise((r) => setImmediate(r));
    // No header bytes leak into the text; the half stdout line is not glued to the stderr line.
    expect(ring.tail(10)).toEqual(["oops", "hello world", "second line"]);
  });

  it("keeps only the last `capacity` lines and returns the last n", () => {
    const ring = new LogRing([], 200);
    for (let i = 1; i <= 250; i++) ring.write("stdout", Buffer.from(`line ${i}\n`));
    expect(ring.tail(1000)).toHaveLength(200);
    expect(ring.tail(1000)[0]).toBe("line 51");
    expect(ring.tail(2)).toEqual(["line 249", "line 250"]);
    expect(ring.tail(0)).toEqual([]);
  });

  it("scrubs secrets, including multi-line ones and overlapping ones", () => {
    const ring = new LogRing(["hunter2", "hunter2-long", "-----BEGIN KEY-----\nAAAA1111"]);
    ring.write("stdout", Buffer.from("token=hunter2-long and hunter2\n-----BEGIN KEY-----\nAAAA1111\n"));
    expect(ring.tail(10)).toEqual(["token=*** and ***", "***", "***"]);
  });

  it("scrubs the line still being written too", () => {
    const ring = new LogRing(["s3cr3t"]);
    ring.write("stderr", Buffer.from("password s3cr3t, no newline yet"));
    expect(ring.tail(1)).toEqual(["password ***, no newline yet"]);
    ring.end();
    expect(ring.tail(5)).toEqual(["password ***, no newline yet"]);
  });

  it("decodes UTF-8 split across chunks and shows progress bars as a terminal would", () => {
    const ring = new LogRing([]);
    const text = Buffer.from("Grüße\n 10%\r 50%\r100%\r\n");
    ring.write("stdout", text.subarray(0, 3));
    ring.write("stdout", text.subarray(3));
    expect(ring.tail(5)).toEqual(["Grüße", "100%"]);
  });

  it("tells listeners about each complete line, until they unsubscribe", () => {
    const ring = new LogRing(["pw"]);
    const seen: string[] = [];
    const off = ring.onLine((l) => seen.push(l));
    ring.write("stdout", Buffer.from("a pw\nb"));
    off();
    ring.write("stdout", Buffer.from("\nc\n"));
    expect(seen).toEqual(["a ***"]);
  });

  it("cuts an endless line instead of growing", () => {
    const ring = new LogRing([]);
    for (let i = 0; i < 100; i++) ring.write("stdout", Buffer.from("x".repeat(1000)));
    const lines = ring.tail(100);
    expect(lines.every((l) => l.length <= 4097)).toBe(true);
  });
});

describe("secretScrubber", () => {
  it("leaves text alone without secrets and ignores empty ones", () => {
    expect(secretScrubber(["", ""])("abc")).toBe("abc");
  });
});

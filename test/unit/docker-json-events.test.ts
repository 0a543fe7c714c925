import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import type { EngineEvent } from "../../src/docker/build-progress.js";
import { LineSplitter, readEngineStream } from "../../src/docker/json-events.js";

describe("LineSplitter", () => {
  it("joins lines cut across chunks and handles CRLF", () => {
    const lines = new LineSplitter();
    expect(lines.push("Step 1/2 : FR")).toEqual([]);
    expect(lines.push("OM scratch\r\n ---> \nlast")).toEqual(["Step 1/2 : FROM scratch", " ---> "]);
    expect(lines.end()).toEqual(["last"]);
    expect(lines.end()).toEqual([]);
  });
});

describe("readEngineStream", () => {
  it("parses JSON lines split anywhere, even inside a multi-byte character", async () => {
    const text =
      '{"stream":"caf\u00e9 \u2713\\n"}\r\n{"status":"Pull complete","id":"abc"}\nnot json\n{"error":"boom"}';
    const bytes = Buffer.from(text, "utf8");
    const chunks = [
      bytes.subarray(0, 12),
      bytes.subarray(12, 13),
      bytes.subarray(13, 40),
      bytes.subarray(40),
    ];
    const events: EngineEvent[] = [];
    await readEngineStream(Readable.from(chunks), (e) => events.push(e));
    expect(events).toEqual([
      { stream: "caf\u00e9 \u2713\n" },
      { status: "Pull complete", id: "abc" },
      { stream: "not json\n" },
      { error: "boom" },
    ]);
  });
});

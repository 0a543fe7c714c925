import { describe, expect, it } from "vitest";
import { formatMarker, isNewerRun, markerPrefix, parseMarker } from "../../src/github/marker.js";

describe("comment marker", () => {
  it("round-trips name, state and run", () => {
    const line = formatMarker({ name: "app", state: "live", run: "123.2" });
    expect(line).toBe('<!-- ml-preview name="app" state="live" run="123.2" -->');
    expect(parseMarker(`${line}\n### body`)).toEqual({ name: "app", state: "live", run: "123.2" });
  });

  it("keeps names with quotes and comment terminators inside the marker", () => {
    const name = 'a"b --> <c> & d';
    const line = formatMarker({ name, state: "building", run: "1.1" });
    expect(line.indexOf("-->")).toBe(line.length - 3);
    expect(parseMarker(line)?.name).toBe(name);
    expect(line.startsWith(markerPrefix(name))).toBe(true);
  });

  it("tells names apart by prefix, including names that are prefixes of others", () => {
    const body = formatMarker({ name: "app-2", state: "live", run: "1.1" });
    expect(body.startsWith(markerPrefix("app"))).toBe(false);
    expect(body.startsWith(markerPrefix("app-2"))).toBe(true);
  });

  it("rejects bodies that are not ours", () => {
    expect(parseMarker("LGTM")).toBeUndefined();
    expect(parseMarker('text first\n<!-- ml-preview name="app" state="live" run="1.1" -->')).toBeUndefined();
    expect(parseMarker('<!-- ml-preview name="app" state="exploded" run="1.1" -->')).toBeUndefined();
    expect(parseMarker('<!-- ml-preview name="app" state="live" run="latest" -->')).toBeUndefined();
  });
});

describe("a PR command's request in the marker", () => {
  const at = new Date("2026-01-02T03:04:05.000Z");

  it("round-trips stop and extend after run, keeping name, state and run first", () => {
    const stop = formatMarker({
      name: "app",
      state: "live",
      run: "7.1",
      request: { kind: "stop", by: "octocat", at },
    });
    expect(stop).toBe(
      '<!-- ml-preview name="app" state="live" run="7.1" request="stop" by="octocat" at="2026-01-02T03:04:05.000Z" -->',
    );
    expect(stop.startsWith(markerPrefix("app"))).toBe(true);
    expect(parseMarker(stop)?.request).toEqual({ kind: "stop", by: "octocat", at });
    const extend = formatMarker({
      name: "app",
      state: "live",
      run: "7.1",
      request: { kind: "extend", ms: 1_800_000, by: "maintainer", at },
    });
    expect(extend).toContain('request="extend:1800"');
    expect(parseMarker(extend)).toEqual({
      name: "app",
      state: "live",
      run: "7.1",
      request: { kind: "extend", ms: 1_800_000, by: "maintainer", at },
    });
  });

  it("reads a marker without a request as before, and ignores unknown or incomplete requests", () => {
    expect(parseMarker('<!-- ml-preview name="app" state="live" run="1.1" -->')).toEqual({
      name: "app",
      state: "live",
      run: "1.1",
    });
    const withFuture = '<!-- ml-preview name="app" state="live" run="1.1" color="blue" -->';
    expect(parseMarker(withFuture)).toEqual({ name: "app", state: "live", run: "1.1" });
    for (const request of [
      'request="explode" by="x" at="2026-01-01T00:00:00Z"',
      'request="stop" by="x"',
      'request="extend:0" by="x" at="2026-01-01T00:00:00Z"',
    ])
      expect(
        parseMarker(`<!-- ml-preview name="app" state="live" run="1.1" ${request} -->`)?.request,
      ).toBeUndefined();
  });
});

describe("isNewerRun", () => {
  it.each([
    ["124.1", "123.1", true],
    ["123.1", "124.1", false],
    ["123.2", "123.1", true],
    ["123.1", "123.2", false],
    ["123.1", "123.1", false],
    // Numeric, not lexical: run ids grow a digit now and then.
    ["1000.1", "999.1", true],
    ["999.9", "1000.1", false],
    ["12345678901234567890.1", "12345678901234567889.5", true],
    ["garbage", "1.1", false],
    ["1.1", "garbage", false],
  ])("%s newer than %s → %s", (a, b, expected) => {
    expect(isNewerRun(a, b)).toBe(expected);
  });
});

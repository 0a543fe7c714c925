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

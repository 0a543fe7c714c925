import { describe, expect, it } from "vitest";
import { parseCommand } from "../../src/github/pr-command.js";

describe("parseCommand: the first line of a PR comment", () => {
  it.each([
    ["/preview", { kind: "start" }],
    ["  /preview  \nthanks!", { kind: "start" }],
    ["/preview api", { kind: "start", name: "api" }],
    ["/preview stop", { kind: "stop" }],
    ["/preview stop api", { kind: "stop", name: "api" }],
    ["/preview extend 30m", { kind: "extend", ms: 1_800_000 }],
    ["/preview extend 1h30m api\nmore text", { kind: "extend", ms: 5_400_000, name: "api" }],
  ])("%j is a command", (body, expected) => {
    expect(parseCommand(body)).toEqual(expected);
  });

  it.each([
    "LGTM",
    "nice /preview",
    "/previews please",
    "> /preview stop\nquoted, not a command",
    "first line\n/preview stop",
  ])("%j is not a command (ignored quietly)", (body) => {
    expect(parseCommand(body)).toBeUndefined();
  });

  it.each([
    ["/preview extend", /needs a duration/],
    ["/preview extend soon", /`soon` is not a duration/],
    ["/preview extend 30", /`30` is not a duration/],
    ["/preview extend 0m", /`0m` is not a duration/],
    ["/preview stop api extra", /too many words after `\/preview stop`/],
    ["/preview extend 1h api extra", /too many words/],
    ["/preview restart now", /`restart` is not a command/],
  ])("%j is malformed: %s", (body, problem) => {
    const parsed = parseCommand(body);
    expect(parsed?.kind).toBe("malformed");
    expect(parsed && "problem" in parsed ? parsed.problem : "").toMatch(problem);
  });
});

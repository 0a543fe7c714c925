import { describe, expect, it } from "vitest";
import { approvalProblem } from "../../src/action/approval.js";
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
    // The reviewed commit: 7–40 hex digits, last; lower-cased as git prints it.
    ["/preview 3f2a9c1", { kind: "start", sha: "3f2a9c1" }],
    ["/preview api 3F2A9C1D", { kind: "start", name: "api", sha: "3f2a9c1d" }],
    [`/preview ${"ab".repeat(20)}`, { kind: "start", sha: "ab".repeat(20) }],
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
    ["/preview api 3f2a9c", /a preview name \(one word\) and the commit you reviewed/],
    [`/preview api ${"a".repeat(41)}`, /`api` is not a command/],
    ["/preview api web 3f2a9c1", /`api` is not a command/],
  ])("%j is malformed: %s", (body, problem) => {
    const parsed = parseCommand(body);
    expect(parsed?.kind).toBe("malformed");
    expect(parsed && "problem" in parsed ? parsed.problem : "").toMatch(problem);
  });
});

describe("approvalProblem: the reviewed commit is the built commit", () => {
  const head = "3f2a9c1d".padEnd(40, "0");
  const other = "9e8d7c6b".padEnd(40, "1");
  const base = { head, checkedOut: head, builds: true, howToName: "comment `/preview SHA`" };

  it("a fork's code is built only for the commit named, when it is the head and the checkout", () => {
    expect(approvalProblem({ ...base, fork: true, named: head.slice(0, 7) })).toBeUndefined();
    expect(approvalProblem({ ...base, fork: true, named: head })).toBeUndefined();
  });

  it("a fork's bare request builds nothing and says how to name the head", () => {
    expect(approvalProblem({ ...base, fork: true })).toContain(`comment \`/preview ${head.slice(0, 12)}\``);
  });

  it("a push after the review: the named commit is not the head", () => {
    expect(approvalProblem({ ...base, fork: true, named: other.slice(0, 9), checkedOut: head })).toContain(
      "is not the pull request's head",
    );
  });

  it("pushed, checked out, then force-pushed back: the checkout is not the head", () => {
    expect(approvalProblem({ ...base, fork: true, named: head, checkedOut: other })).toContain(
      `the workspace holds \`${other.slice(0, 12)}\``,
    );
  });

  it("a fork's build context that is no git checkout cannot be compared: refused", () => {
    expect(approvalProblem({ ...base, fork: true, named: head, checkedOut: undefined })).toContain(
      "no git checkout could be read",
    );
  });

  it("an image preview builds nothing of the PR: the named commit still has to be the head", () => {
    expect(
      approvalProblem({ ...base, fork: true, named: head, builds: false, checkedOut: undefined }),
    ).toBeUndefined();
    expect(approvalProblem({ ...base, fork: true, named: other, builds: false })).toContain(
      "not the pull request's head",
    );
  });

  it("a same-repository PR keeps working bare; a commit named there is still checked", () => {
    expect(approvalProblem({ ...base, fork: false, checkedOut: other })).toBeUndefined();
    expect(approvalProblem({ ...base, fork: false, checkedOut: undefined, named: head })).toBeUndefined();
    expect(approvalProblem({ ...base, fork: false, named: head, checkedOut: other })).toContain(
      "the workspace holds",
    );
  });
});

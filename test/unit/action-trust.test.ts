import { describe, expect, it } from "vitest";
import { cacheReadOnlyReason } from "../../src/action/trust.js";
import { parseConfig } from "../../src/config/parse.js";
import type { Inputs } from "../../src/config/types.js";
import { readOnlyCachesNote } from "../../src/docker/cache/index.js";

describe("cacheReadOnlyReason (which runs may write the caches other runs read)", () => {
  it.each([
    ["pull_request", 12],
    ["push", undefined],
    ["schedule", undefined],
    ["workflow_dispatch", undefined],
    ["merge_group", undefined],
  ])("%s (PR %s) writes: its cache scope holds its own ref's code only", (event, pr) => {
    expect(cacheReadOnlyReason(event, pr)).toBeUndefined();
  });

  it.each([
    ["pull_request_target", 12, /pull_request_target run builds pull request #12's code on the base branch/],
    ["pull_request_target", undefined, /pull_request_target run builds a pull request's code/],
    [
      "issue_comment",
      12,
      /issue_comment run \(a \/preview command\) builds pull request #12's code on the default branch/,
    ],
    [
      "workflow_dispatch",
      12,
      /workflow_dispatch run builds pull request #12's code on the branch it was started on/,
    ],
    ["schedule", 3, /schedule run builds pull request #3's code/],
    ["pull_request_review", 3, /pull_request_review run builds pull request #3's code/],
  ])("%s (PR %s) only reads: it builds a PR's code in a branch's scope", (event, pr, says) => {
    expect(cacheReadOnlyReason(event, pr)).toMatch(says);
  });
});

describe("readOnlyCachesNote", () => {
  const config = (inputs: Inputs) =>
    parseConfig({ "ngrok-authtoken": "2abcToken_xyz", ...inputs }, { workspace: process.cwd() });

  it("says why, then what still happens to each cache the preview has", () => {
    const note = readOnlyCachesNote(
      config({ "cache-dirs": "/models", cache: "registry:ghcr.io/o/r:cache" }),
      "this issue_comment run builds pull request #12's code on the default branch",
    );
    expect(note).toBe(
      "Caches are read-only in this run: this issue_comment run builds pull request #12's code on the default branch. " +
        "So cache-dirs are restored, never saved; the build cache ghcr.io/o/r:cache is pulled, never pushed.",
    );
    expect(readOnlyCachesNote(config({ cache: "gha" }), "why")).toBe(
      "Caches are read-only in this run: why. So cache: gha layers are imported, never exported.",
    );
  });

  it("says nothing when the preview has no cache", () => {
    expect(readOnlyCachesNote(config({}), "why")).toBeUndefined();
    expect(readOnlyCachesNote(config({ image: "ghcr.io/o/app:1" }), "why")).toBeUndefined();
  });
});

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createOctokit, type Octokit } from "../../src/github/octokit.js";
import {
  pullRequestState,
  readRunContext,
  resolveTarget,
  type TargetConfig,
} from "../../src/github/pull-request.js";
import { silentLogger } from "../../src/log.js";
import { type GitHubEmulator, startGitHubEmulator } from "../support/github-emulator/index.js";

const ngrok: TargetConfig = { hasNgrokToken: true, tunnel: "ngrok", allowForkLabel: "safe-to-preview" };

describe("resolveTarget and pullRequestState against the GitHub emulator", () => {
  let gh: GitHubEmulator;
  let octokit: Octokit;
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "ml-preview-github-target-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  beforeEach(async () => {
    gh = await startGitHubEmulator();
    gh.addPull({ number: 1, headSha: "1".repeat(40), headRef: "own-branch" });
    gh.addPull({ number: 2, headSha: "2".repeat(40), headRef: "fork-branch", fork: true });
    gh.addPull({
      number: 3,
      headSha: "3".repeat(40),
      headRef: "fork-labelled",
      fork: true,
      labels: ["safe-to-preview"],
    });
    octokit = createOctokit(gh.token, { baseUrl: gh.url, log: silentLogger, fastRetries: true });
  });
  afterEach(() => gh.close());

  /** The runner's env for an event; a PR event's payload carries the PR object exactly as the REST API shows it. */
  async function envFor(
    eventName: string,
    prNumber?: number,
    trigger: { action: string; label?: string } = { action: "synchronize" },
  ): Promise<NodeJS.ProcessEnv> {
    const path = join(dir, `${eventName}-${prNumber ?? "none"}.json`);
    const payload =
      prNumber === undefined
        ? { inputs: {} }
        : {
            action: trigger.action,
            ...(trigger.label ? { label: { name: trigger.label } } : {}),
            number: prNumber,
            pull_request: (
              await octokit.rest.pulls.get({ owner: gh.owner, repo: gh.repo, pull_number: prNumber })
            ).data,
          };
    writeFileSync(path, JSON.stringify(payload));
    return {
      GITHUB_REPOSITORY: `${gh.owner}/${gh.repo}`,
      GITHUB_RUN_ID: "4242",
      GITHUB_RUN_ATTEMPT: "1",
      GITHUB_EVENT_NAME: eventName,
      GITHUB_EVENT_PATH: path,
      GITHUB_SHA: "f".repeat(40),
    };
  }

  async function target(
    eventName: string,
    prNumber: number | undefined,
    cfg: TargetConfig = ngrok,
    trigger?: { action: string; label?: string },
  ) {
    const env = await envFor(eventName, eventName.startsWith("pull_request") ? prNumber : undefined, trigger);
    const seen = gh.requests.length;
    const result = await resolveTarget(octokit, readRunContext(env), env, {
      ...cfg,
      prNumber: eventName.startsWith("pull_request") ? undefined : prNumber,
    });
    return { result, requests: gh.requests.slice(seen) };
  }

  it("pull_request from the same repository: the PR from the payload, no API call", async () => {
    const { result, requests } = await target("pull_request", 1);
    expect(result).toEqual({
      pr: {
        number: 1,
        headSha: "1".repeat(40),
        headRef: "own-branch",
        isFork: false,
        labels: [],
        state: "open",
      },
    });
    expect(requests).toHaveLength(0);
  });

  it("pull_request from a fork without an ngrok token: skipped, with the safe pattern", async () => {
    const { result } = await target("pull_request", 2, { ...ngrok, hasNgrokToken: false });
    expect(result.pr?.isFork).toBe(true);
    expect(result.refusal).toBeUndefined();
    expect(result.skip?.reason).toMatch(/fork/);
    expect(result.skip?.hint).toContain("pull_request_target");
    expect(result.skip?.hint).toContain("allow-fork-label");
  });

  it("pull_request from a fork with tunnel none is not skipped (a self-hosted runner needs no token)", async () => {
    const { result } = await target("pull_request", 2, { ...ngrok, hasNgrokToken: false, tunnel: "none" });
    expect(result.skip).toBeUndefined();
    expect(result.pr?.number).toBe(2);
  });

  it("pull_request_target from a fork without the label: a refusal naming the label", async () => {
    const { result } = await target("pull_request_target", 2);
    expect(result.refusal).toContain("`safe-to-preview`");
    expect(result.refusal).toContain("fork");
    expect(result.skip).toBeUndefined();
    const unset = await target("pull_request_target", 3, { ...ngrok, allowForkLabel: undefined });
    expect(unset.result.refusal).toContain("allow-fork-label");
  });

  it("pull_request_target from a fork, started by adding the label: previewed, the label kept", async () => {
    gh.setRole("maintainer-mia", "maintain");
    gh.addLabel(3, "safe-to-preview", "maintainer-mia");
    const { result, requests } = await target("pull_request_target", 3, ngrok, {
      action: "labeled",
      label: "safe-to-preview",
    });
    expect(result.refusal).toBeUndefined();
    expect(result.skip).toBeUndefined();
    expect(result.pr).toMatchObject({
      number: 3,
      isFork: true,
      labels: ["safe-to-preview"],
      headRef: "fork-labelled",
    });
    expect(requests.filter((r) => r.method === "DELETE")).toEqual([]);
  });

  it("pull_request_target from a fork that carries the label, started by new commits: refused, label removed", async () => {
    const { result, requests } = await target("pull_request_target", 3, ngrok, { action: "synchronize" });
    expect(result.refusal).toContain("started by `synchronize`: the code may have changed");
    expect(result.refusal).toContain(
      "ml-preview removed the label; a maintainer adds `safe-to-preview` again",
    );
    expect(requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `DELETE /repos/${gh.owner}/${gh.repo}/issues/3/labels/safe-to-preview`,
    ]);
    const { data } = await octokit.rest.pulls.get({ owner: gh.owner, repo: gh.repo, pull_number: 3 });
    expect(data.labels.map((l) => l.name)).toEqual([]);
  });

  it("another label added next to ours approves nothing new and removes nothing: a quiet skip", async () => {
    const { result, requests } = await target("pull_request_target", 3, ngrok, {
      action: "labeled",
      label: "bug",
    });
    expect(result.refusal).toBeUndefined();
    expect(result.skip?.reason).toContain(
      "started by `labeled bug`, not by adding the label `safe-to-preview`",
    );
    expect(result.skip?.hint).toContain("types: [labeled, synchronize]");
    expect(requests.filter((r) => r.method === "DELETE")).toEqual([]);
  });

  it("label names in refusals and skips are inline code: Markdown in a label stays text", async () => {
    const { result } = await target("pull_request_target", 3, ngrok, {
      action: "labeled",
      label: "**[click](https://evil.example)** `x`",
    });
    expect(result.skip?.reason).toContain("started by `` labeled **[click](https://evil.example)** `x` ``");
    expect(result.skip?.reason).not.toContain('"labeled');
  });

  it("the label added by someone who may not push (triage, a label bot) approves nothing: refused, label removed", async () => {
    gh.setRole("maintainer-mia", "maintain");
    gh.addLabel(3, "safe-to-preview", "maintainer-mia");
    gh.setRole("triager-tom", "triage");
    gh.addLabel(3, "Safe-To-Preview", "triager-tom"); // the newest labelling is the one that started this run
    const triage = await target("pull_request_target", 3, ngrok, {
      action: "labeled",
      label: "Safe-To-Preview",
    });
    expect(triage.result.refusal).toContain(
      "was added by @triager-tom, whose role is `triage`; only people with write, maintain or admin access",
    );
    expect(triage.result.refusal).toContain("Nothing was built; ml-preview removed the label.");
    expect(triage.requests.map((r) => `${r.method} ${r.path.split("?")[0]}`)).toEqual([
      `GET /repos/${gh.owner}/${gh.repo}/issues/3/events`,
      `GET /repos/${gh.owner}/${gh.repo}/collaborators/triager-tom/permission`,
      `DELETE /repos/${gh.owner}/${gh.repo}/issues/3/labels/Safe-To-Preview`,
    ]);
    gh.addLabel(3, "safe-to-preview", "label-bot[bot]");
    const bot = await target("pull_request_target", 3, ngrok, {
      action: "labeled",
      label: "safe-to-preview",
    });
    expect(bot.result.refusal).toContain("was added by @label-bot[bot], whose role is `read`");
  });

  it("the label matches whatever its case (GitHub's label names are case-insensitive)", async () => {
    gh.setRole("maintainer-mia", "admin");
    gh.addLabel(3, "safe-to-preview", "maintainer-mia");
    const { result } = await target(
      "pull_request_target",
      3,
      { ...ngrok, allowForkLabel: "Safe-To-Preview" },
      {
        action: "labeled",
        label: "safe-to-preview",
      },
    );
    expect(result.refusal).toBeUndefined();
    expect(result.pr?.number).toBe(3);
  });

  it("a stale label that cannot be removed (read-only token): refused, saying why and who removes it", async () => {
    gh.setReadOnly(true);
    const { result } = await target("pull_request_target", 3, ngrok, { action: "reopened" });
    expect(result.refusal).toContain("started by `reopened`");
    expect(result.refusal).toMatch(/could not remove the label \(.*pull-requests: write.*\)/s);
    expect(result.refusal).toContain("a maintainer removes `safe-to-preview` and adds it again");
  });

  it("workflow_dispatch with pr-number fetches the PR's head; without it there is no PR", async () => {
    const withPr = await target("workflow_dispatch", 1);
    expect(withPr.result.pr).toMatchObject({
      number: 1,
      headSha: "1".repeat(40),
      headRef: "own-branch",
      state: "open",
    });
    expect(withPr.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `GET /repos/${gh.owner}/${gh.repo}/pulls/1`,
    ]);
    const without = await target("workflow_dispatch", undefined);
    expect(without.result).toEqual({});
    expect(without.requests).toHaveLength(0);
  });

  it("workflow_dispatch with an unknown pr-number says so", async () => {
    const error = await target("workflow_dispatch", 404).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: "PreviewError", code: "GITHUB_NOT_FOUND" });
    expect((error as Error).message).toContain("#404");
  });

  it("other events: no PR", async () => {
    expect((await target("push", undefined)).result).toEqual({});
    expect((await target("schedule", undefined)).result).toEqual({});
  });

  it("pullRequestState follows closing and new commits", async () => {
    const run = readRunContext(await envFor("pull_request", 1));
    expect(await pullRequestState(octokit, run, 1)).toEqual({ open: true, headSha: "1".repeat(40) });
    gh.setPullState(1, "closed", true);
    expect(await pullRequestState(octokit, run, 1)).toEqual({ open: false, headSha: "1".repeat(40) });
  });
});

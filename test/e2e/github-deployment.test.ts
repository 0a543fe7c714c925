import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PreviewDeployment, previewEnvironment } from "../../src/github/deployment.js";
import { createOctokit, type Octokit } from "../../src/github/octokit.js";
import type { RunContext } from "../../src/github/pull-request.js";
import { silentLogger } from "../../src/log.js";
import { type GitHubEmulator, startGitHubEmulator } from "../support/github-emulator/index.js";

describe("PreviewDeployment against the GitHub emulator", () => {
  let gh: GitHubEmulator;
  let octokit: Octokit;
  let run: RunContext;

  beforeEach(async () => {
    // The run creating the deployment is itself a pending check: without required_contexts: [] this is a 409.
    gh = await startGitHubEmulator({ contexts: { preview: "pending" } });
    gh.addPull({ number: 1, headSha: "1".repeat(40), headRef: "one", behindBase: true });
    gh.addPull({ number: 2, headSha: "2".repeat(40), headRef: "two" });
    octokit = createOctokit(gh.token, { baseUrl: gh.url, log: silentLogger, fastRetries: true });
    run = {
      owner: gh.owner,
      repo: gh.repo,
      runId: "77.1",
      runUrl: `https://github.com/${gh.owner}/${gh.repo}/actions/runs/77`,
      sha: "f".repeat(40),
      eventName: "pull_request",
    };
  });
  afterEach(() => gh.close());

  const deployment = (pr: number, ref: string, name = "app") =>
    new PreviewDeployment(octokit, run, {
      environment: previewEnvironment(pr, name),
      ref,
      log: silentLogger,
    });
  const statesOf = (environment: string) =>
    gh
      .deployments()
      .filter((d) => d.environment === environment)
      .map((d) => d.statuses.map((s) => s.state));

  it("goes in_progress → success with the URL → inactive, as a transient environment", async () => {
    const d = deployment(1, "one");
    await d.start();
    await d.live("https://one.ngrok-free.app");
    await d.end("expired");
    const [created] = gh.deployments();
    expect(created).toMatchObject({
      environment: "preview/pr-1/app",
      ref: "one",
      transient_environment: true,
      production_environment: false,
      auto_merge: false,
    });
    expect(created!.statuses.map((s) => [s.state, s.environment_url ?? ""])).toEqual([
      ["in_progress", ""],
      ["success", "https://one.ngrok-free.app"],
      ["inactive", ""],
    ]);
    expect(created!.statuses.every((s) => s.log_url === run.runUrl)).toBe(true);
  });

  it("keeps two PRs (and two names in one PR) independent", async () => {
    const one = deployment(1, "one");
    const two = deployment(2, "two");
    const twoDocs = deployment(2, "two", "docs");
    for (const d of [one, two, twoDocs]) await d.start();
    await one.live("https://one.ngrok-free.app");
    await two.live("https://two.ngrok-free.app");
    await twoDocs.live("https://docs.ngrok-free.app");
    await one.end("stopped");
    // A new run of PR 2's app does not touch PR 2's docs nor PR 1.
    const twoAgain = deployment(2, "two");
    await twoAgain.start();
    await twoAgain.live("https://two-b.ngrok-free.app");
    await two.end("superseded");

    expect(statesOf("preview/pr-1/app")).toEqual([["in_progress", "success", "inactive"]]);
    expect(statesOf("preview/pr-2/docs")).toEqual([["in_progress", "success"]]);
    expect(statesOf("preview/pr-2/app")).toEqual([
      ["in_progress", "success", "inactive"],
      ["in_progress", "success"],
    ]);
  });

  it("the post step ends a deployment it knows by id", async () => {
    const d = deployment(1, "one");
    await d.start();
    await d.live("https://one.ngrok-free.app");
    const post = new PreviewDeployment(octokit, run, {
      environment: previewEnvironment(1, "app"),
      ref: "one",
      log: silentLogger,
      deploymentId: d.id,
    });
    await post.start();
    await post.end("stopped");
    expect(gh.deployments()).toHaveLength(1);
    expect(statesOf("preview/pr-1/app")).toEqual([["in_progress", "success", "inactive"]]);
  });

  it("marks a failure as failure", async () => {
    const d = deployment(2, "two");
    await d.start();
    await d.end("failed");
    expect(statesOf("preview/pr-2/app")).toEqual([["in_progress", "failure"]]);
  });

  it("a token without deployments: write gets a message naming it", async () => {
    gh.setReadOnly(true);
    const error = await deployment(1, "one")
      .start()
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ name: "PreviewError", code: "GITHUB_PERMISSION" });
    expect((error as Error).message).toContain("`deployments: write`");
  });
});

import { copyFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type Docker from "dockerode";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { busyboxHttpdDockerfile, busyboxPath, requireDocker } from "../support/docker.js";
import { type GitHubEmulator, startGitHubEmulator } from "../support/github-emulator/index.js";
import {
  gitCommit,
  HEAD_SHA,
  leftContainers,
  nextRunId,
  PR,
  pullRequestEvent,
} from "../support/preview-fixture.js";
import { RunnerHarness } from "../support/runner.js";

// Which PR a run previews, by event: forks, pull_request_target opt-in, workflow_dispatch with and without a PR.
let docker: Docker;
let github: GitHubEmulator;

beforeAll(async () => {
  docker = await requireDocker();
});
afterEach(async () => {
  await github?.close();
});

function forkEvent(labels: string[] = []) {
  const event = pullRequestEvent();
  event.pull_request.head.repo = { full_name: "someone/ml-app", fork: true };
  event.pull_request.labels = labels.map((name) => ({ name })) as never;
  return event;
}

function job(eventName: string, event: unknown, inputs: Record<string, string>) {
  const runId = nextRunId();
  const j = new RunnerHarness({
    inputs,
    eventName,
    event,
    env: { GITHUB_API_URL: github.url, GITHUB_RUN_ID: runId, ML_PREVIEW_POLL_INTERVAL: "1s" },
  });
  copyFileSync(busyboxPath(), join(j.workspace, "busybox"));
  writeFileSync(join(j.workspace, "Dockerfile"), busyboxHttpdDockerfile(8080));
  return { job: j, label: `ml-preview.run=${runId}.1` };
}

describe("forks", () => {
  it("pull_request from a fork without the ngrok token: skipped with a notice and a summary, exit 0", async () => {
    github = await startGitHubEmulator({ readOnly: true });
    const { job: j, label } = job("pull_request", forkEvent(), { "ngrok-authtoken": "" });
    const result = await j.main();
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^::notice::ml-preview skipped: .*fork/m);
    expect(result.outputs.status).toBe("skipped");
    expect(result.summary).toMatch(/pull_request_target/);
    expect(result.summary).toMatch(/allow-fork-label/);
    expect(github.requests.filter((r) => r.method !== "GET")).toEqual([]);
    expect(await leftContainers(docker, label)).toEqual([]);
    expect((await j.post()).code).toBe(0);
  });

  it("pull_request_target from a fork without the opt-in label: a clear refusal, nothing built", async () => {
    github = await startGitHubEmulator();
    const { job: j, label } = job("pull_request_target", forkEvent(), {
      "ngrok-authtoken": "tok-abc-123",
      "allow-fork-label": "safe-to-preview",
    });
    const result = await j.main();
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/::error::.*does not carry the label `safe-to-preview`/);
    expect(await leftContainers(docker, label)).toEqual([]);
  });
});

describe("workflow_dispatch for a fork's pull request", () => {
  const dispatch = (inputs: Record<string, string>, checkout: (workspace: string) => string) => {
    const { job: j, label } = job(
      "workflow_dispatch",
      { inputs: { "pr-number": String(PR) } },
      { tunnel: "none", duration: "2s", "pr-number": String(PR), ...inputs },
    );
    checkout(j.workspace);
    return { j, label };
  };
  const pushAfterReview = (ws: string) => {
    gitCommit(ws);
    writeFileSync(join(ws, "payload.sh"), "steal the secrets");
    return gitCommit(ws, "pushed after the review");
  };

  it("builds only the commit named in pr-sha, when it is the PR's head and the commit checked out", async () => {
    github = await startGitHubEmulator();
    let reviewed = "";
    const probe = dispatch({}, (ws) => (reviewed = gitCommit(ws)));
    github.addPull({ number: PR, headSha: reviewed, headRef: "feature/model-v2", fork: true });
    // Without pr-sha: nothing built, the error says which commit to name.
    const bare = await probe.j.main();
    expect(bare.code).toBe(1);
    expect(bare.stdout).toContain(`set the \`pr-sha\` input to ${reviewed.slice(0, 12)}`);
    expect(await leftContainers(docker, probe.label)).toEqual([]);
    // The fork pushed between the dispatch and the checkout: the workspace is not the reviewed commit.
    const raced = dispatch({ "pr-sha": reviewed.slice(0, 10) }, pushAfterReview);
    const refused = await raced.j.main();
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/::error::.*Nothing was built: the workspace holds `[0-9a-f]{12}`/);
    expect(await leftContainers(docker, raced.label)).toEqual([]);
    expect(github.comments(PR)).toEqual([]);
    const approved = dispatch({ "pr-sha": reviewed }, (ws) => gitCommit(ws));
    const result = await approved.j.main();
    expect(result.code, result.stdout).toBe(0);
    expect(result.outputs.status).toBe("expired");
    expect(github.comments(PR)[0]!.body).toContain(reviewed.slice(0, 7));
  });
});

describe("workflow_dispatch", () => {
  it("without pr-number: no comment, outputs and summary only", async () => {
    github = await startGitHubEmulator();
    github.addPull({ number: PR, headSha: HEAD_SHA, headRef: "feature/model-v2" });
    const { job: j, label } = job("workflow_dispatch", { inputs: {} }, { tunnel: "none", duration: "2s" });
    const result = await j.main();
    expect(result.code).toBe(0);
    expect(result.outputs).toMatchObject({ status: "expired", url: "", "comment-id": "" });
    expect(result.outputs["local-url"]).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(result.summary).toContain(result.outputs["local-url"]);
    expect(github.requests.filter((r) => r.path.includes("/comments"))).toEqual([]);
    expect(await leftContainers(docker, label)).toEqual([]);
  });

  it("with pr-number: fetches the PR and keeps its comment", async () => {
    github = await startGitHubEmulator();
    github.addPull({ number: PR, headSha: HEAD_SHA, headRef: "feature/model-v2" });
    const { job: j } = job(
      "workflow_dispatch",
      { inputs: { "pr-number": String(PR) } },
      {
        tunnel: "none",
        duration: "2s",
        "pr-number": String(PR),
      },
    );
    const result = await j.main();
    expect(result.code).toBe(0);
    const comments = github.comments(PR);
    expect(comments).toHaveLength(1);
    expect(comments[0]!.body).toMatch(/^<!-- ml-preview name="app" state="expired" /);
    expect(comments[0]!.body).toContain(HEAD_SHA.slice(0, 7));
    expect(result.outputs["comment-id"]).toBe(String(comments[0]!.id));
  });
});

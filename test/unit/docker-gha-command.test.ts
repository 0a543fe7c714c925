import { describe, expect, it } from "vitest";
import type { BuildRequest } from "../../src/docker/build.js";
import { BuildxProgress } from "../../src/docker/cache/buildx-progress.js";
import {
  buildxBuildArgs,
  buildxEnv,
  buildxSecretEnv,
  ghaEnvProblem,
  ghaScopes,
} from "../../src/docker/cache/gha-command.js";

const request: BuildRequest = {
  context: "/work/app",
  dockerfile: "docker/Dockerfile",
  buildArgs: { A: "1" },
  tag: "ml-preview/octo-app-app:pr-3",
  labels: {
    "ml-preview.repo": "octo/app",
    "ml-preview.pr": "3",
    "ml-preview.name": "app",
  },
};

describe("ghaScopes", () => {
  const prEnv = {
    GITHUB_WORKFLOW: "Preview",
    GITHUB_HEAD_REF: "feat/x",
    GITHUB_BASE_REF: "main",
    GITHUB_REF_NAME: "3/merge",
  };

  it("a PR's run reads its PR's own cache then the base branch's, and writes only its PR's", () => {
    expect(ghaScopes(prEnv, "app", { pr: 3 })).toEqual({
      read: ["ml-preview-Preview-app-pr-3", "ml-preview-Preview-app-main"],
      write: "ml-preview-Preview-app-pr-3",
    });
  });

  it("never writes under the head branch's name, which the PR's author chooses (a fork's may be main)", () => {
    const scopes = ghaScopes({ ...prEnv, GITHUB_HEAD_REF: "main" }, "app", { pr: 3 });
    expect(scopes.write).toBe("ml-preview-Preview-app-pr-3");
  });

  it("on a push to the base branch, reads and writes that branch's scope: the one PRs read", () => {
    const env = { GITHUB_WORKFLOW: "Preview", GITHUB_REF_NAME: "main" };
    expect(ghaScopes(env, "app")).toEqual({
      read: ["ml-preview-Preview-app-main"],
      write: "ml-preview-Preview-app-main",
    });
  });

  it("a read-only run (a PR's code on a branch) imports its scopes and exports nothing", () => {
    // workflow_dispatch with pr-number, or issue_comment: on main, no base ref.
    const dispatch = { GITHUB_WORKFLOW: "Preview", GITHUB_REF_NAME: "main" };
    expect(ghaScopes(dispatch, "app", { pr: 3, readOnly: true })).toEqual({
      read: ["ml-preview-Preview-app-pr-3", "ml-preview-Preview-app-main"],
    });
    // pull_request_target: GITHUB_HEAD_REF is the fork's branch, GITHUB_REF_NAME the base.
    const target = { ...prEnv, GITHUB_REF_NAME: "main" };
    expect(ghaScopes(target, "app", { pr: 3, readOnly: true })).toEqual({
      read: ["ml-preview-Preview-app-pr-3", "ml-preview-Preview-app-main"],
    });
  });

  it("keeps commas and '=' out of a scope, as they would break buildx's attribute list", () => {
    const { write } = ghaScopes({ GITHUB_WORKFLOW: "a,b=c", GITHUB_REF_NAME: "x" }, "n m");
    expect(write).toBe("ml-preview-a-b-c-n-m-x");
  });
});

describe("ghaEnvProblem / buildxEnv", () => {
  it("needs the runtime token and a cache URL (v1 or v2)", () => {
    expect(ghaEnvProblem({})).toBe("ACTIONS_RUNTIME_TOKEN is not set");
    expect(ghaEnvProblem({ ACTIONS_RUNTIME_TOKEN: "t" })).toMatch(
      /ACTIONS_CACHE_URL nor ACTIONS_RESULTS_URL/,
    );
    expect(ghaEnvProblem({ ACTIONS_RUNTIME_TOKEN: "t", ACTIONS_RESULTS_URL: "u" })).toBeUndefined();
    expect(ghaEnvProblem({ ACTIONS_RUNTIME_TOKEN: "t", ACTIONS_CACHE_URL: "u" })).toBeUndefined();
  });

  it("passes the environment through and turns off default attestations", () => {
    expect(buildxEnv({ ACTIONS_RUNTIME_TOKEN: "t", UNSET: undefined })).toEqual({
      ACTIONS_RUNTIME_TOKEN: "t",
      BUILDX_NO_DEFAULT_ATTESTATIONS: "1",
    });
  });
});

describe("buildxBuildArgs", () => {
  it("never puts the token on the command line, and omits what was not asked for", () => {
    const args = buildxBuildArgs(request, { read: ["s"], write: "s" }, { iidFile: "/tmp/iid" });
    expect(args).toEqual([
      "buildx",
      "build",
      "--file",
      "/work/app/docker/Dockerfile",
      "--tag",
      "ml-preview/octo-app-app:pr-3",
      "--label",
      "ml-preview.repo=octo/app",
      "--label",
      "ml-preview.pr=3",
      "--label",
      "ml-preview.name=app",
      "--build-arg",
      "A=1",
      "--cache-from",
      "type=gha,scope=s",
      "--cache-to",
      "type=gha,mode=max,scope=s,ignore-error=true",
      "--iidfile",
      "/tmp/iid",
      "--progress",
      "plain",
      "--load",
      "/work/app",
    ]);
  });
});

describe("buildxBuildArgs without a write scope (a read-only run)", () => {
  it("imports every read scope and has no --cache-to", () => {
    const args = buildxBuildArgs(request, { read: ["a", "b"] }, { iidFile: "/tmp/iid" });
    expect(args.filter((a, i) => a.startsWith("--cache") || args[i - 1]?.startsWith("--cache"))).toEqual([
      "--cache-from",
      "type=gha,scope=a",
      "--cache-from",
      "type=gha,scope=b",
    ]);
  });
});

describe("BuildxProgress", () => {
  it("counts steps per stage and the CACHED ones", () => {
    const progress = new BuildxProgress();
    const output = [
      "#1 [internal] load build definition from Dockerfile",
      "#1 DONE 0.0s",
      "#5 [builder 1/2] FROM docker.io/library/python:3.12-slim@sha256:abc",
      "#5 CACHED",
      "#6 [builder 2/2] RUN pip install -r requirements.txt",
      "#6 CACHED",
      "#7 [stage-1 1/2] COPY --from=builder /venv /venv",
      "#7 0.120 copying",
      "#8 [stage-1 2/2] COPY app.py .",
      "#8 DONE 0.1s",
    ];
    for (const line of output) progress.push(line);
    expect(progress.totalSteps).toBe(4);
    expect(progress.cachedSteps).toBe(2);
    expect(progress.tail.at(-1)).toBe("#8 DONE 0.1s");
  });
});

describe("build secrets for buildx", () => {
  it("--secret id=ID,env=VAR on the command line, the values in the variables only", () => {
    const req = { ...request, secrets: { hf_token: "hf_value_1", "deploy.key": "line 1\nline 2" } };
    const args = buildxBuildArgs(req, { read: ["s"] }, { iidFile: "/tmp/iid" });
    const secrets = args.flatMap((a, i) => (args[i - 1] === "--secret" ? [a] : []));
    expect(secrets).toEqual([
      "id=hf_token,env=ML_PREVIEW_BUILD_SECRET_0",
      "id=deploy.key,env=ML_PREVIEW_BUILD_SECRET_1",
    ]);
    expect(args.join(" ")).not.toContain("hf_value_1");
    expect(buildxSecretEnv(req)).toEqual({
      ML_PREVIEW_BUILD_SECRET_0: "hf_value_1",
      ML_PREVIEW_BUILD_SECRET_1: "line 1\nline 2",
    });
    expect(buildxSecretEnv(request)).toEqual({});
  });
});

import { describe, expect, it } from "vitest";
import { PreviewError } from "../../src/errors.js";
import { readRunContext } from "../../src/github/pull-request.js";

describe("readRunContext", () => {
  it("reads the runner's variables", () => {
    const run = readRunContext({
      GITHUB_REPOSITORY: "acme/models",
      GITHUB_RUN_ID: "777",
      GITHUB_RUN_ATTEMPT: "3",
      GITHUB_SERVER_URL: "https://ghe.acme.internal/",
      GITHUB_SHA: "abc",
      GITHUB_EVENT_NAME: "pull_request_target",
    });
    expect(run).toEqual({
      owner: "acme",
      repo: "models",
      runId: "777.3",
      runUrl: "https://ghe.acme.internal/acme/models/actions/runs/777/attempts/3",
      sha: "abc",
      eventName: "pull_request_target",
    });
  });

  it("defaults to attempt 1 on github.com", () => {
    const run = readRunContext({ GITHUB_REPOSITORY: "a/b", GITHUB_RUN_ID: "5" });
    expect(run.runId).toBe("5.1");
    expect(run.runUrl).toBe("https://github.com/a/b/actions/runs/5");
  });

  it("refuses a missing or malformed repository with advice", () => {
    expect(() => readRunContext({})).toThrow(PreviewError);
    expect(() => readRunContext({ GITHUB_REPOSITORY: "justone" })).toThrow(/owner\/repo/);
  });
});

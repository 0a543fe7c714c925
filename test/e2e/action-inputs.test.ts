import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { RunnerHarness } from "../support/runner.js";

// The bundled dist/ as the runner runs it, with bad inputs: the step fails before anything starts.
describe("action: bad input fails the step before anything starts", () => {
  it("names duration when INPUT_DURATION=7x", async () => {
    const job = new RunnerHarness({ inputs: { duration: "7x", "ngrok-authtoken": "tok_secret_123" } });
    const result = await job.main();
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^::error::duration "7x" is not a duration\. .*30m/m);
    expect(result.outputs).toEqual({});
    expect(result.state).toEqual({});
    // The post step has nothing to clean up and says nothing alarming.
    const post = await job.post();
    expect(post.code).toBe(0);
    expect(post.stdout).not.toMatch(/::(error|warning)::/);
  });

  it("reports each bad input on its own ::error:: line and masks secrets first", async () => {
    const job = new RunnerHarness({
      inputs: {
        port: "70000",
        name: "bad name!",
        "basic-auth": "ada:short",
        "ngrok-authtoken": "tok_secret_456",
        "oauth-provider": "amazon",
        "oauth-client-secret": "oauth_secret_789",
        "oauth-allow-emails": "ada@example.com",
      },
    });
    writeFileSync(join(job.workspace, "Dockerfile"), "FROM scratch\n");
    const result = await job.main();
    expect(result.code).toBe(1);
    const errors = result.stdout.split("\n").filter((l) => l.startsWith("::error::"));
    expect(errors.map((l) => /^::error::([a-z-]+)/.exec(l)?.[1]).sort()).toEqual([
      "basic-auth",
      "name",
      "oauth-client-id",
      "port",
    ]);
    expect(result.stdout).toContain("::add-mask::tok_secret_456");
    expect(result.stdout).toContain("::add-mask::oauth_secret_789");
    expect(result.stdout).toContain("::add-mask::ada:short");
    const afterMasks = result.stdout.replace(/^::add-mask::.*$/gm, "");
    expect(afterMasks).not.toContain("tok_secret_456");
    expect(afterMasks).not.toContain("ada:short");
    expect(afterMasks).not.toContain("oauth_secret_789");
  });

  it("asks for the ngrok token on a same-repo pull request", async () => {
    const job = new RunnerHarness({
      inputs: {},
      event: {
        pull_request: {
          number: 12,
          head: { repo: { full_name: "octo-org/ml-app" } },
          base: { repo: { full_name: "octo-org/ml-app" } },
        },
      },
    });
    const result = await job.main();
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/::error::ngrok-authtoken is empty .*NGROK_AUTHTOKEN/);
  });
});

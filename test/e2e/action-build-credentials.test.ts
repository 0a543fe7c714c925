import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type PreviewWorld, previewHooks } from "../support/preview-fixture.js";

/**
 * Its own preview name: its images differ from other files' "app" of the same repository and PR, and a new
 * image under that tag supersedes (removes) the one another file's job is about to run.
 */
const OWN_NAME = "build-credentials";

// The bundled dist/ run the way the runner runs it, against the real engine and the GitHub emulator:
// no credential of a failed build reaches the PR comment or the summary, and the log masks each first.
const { newWorld } = previewHooks();
let world: PreviewWorld;

const INSTALL = 'RUN ["/bin/busybox", "--install", "-s", "/bin"]';
/** The job token the runner harness passes as github-token (actionDefaults). */
const JOB_TOKEN = "ghs_emulatortoken";

/** Where `text` first appears in the log other than in its own ::add-mask:: command (-1: nowhere). */
const firstSaid = (stdout: string, text: string) => stdout.replace(/^::add-mask::.*$/gm, "").indexOf(text);

describe("action: a failed build's output in the comment", () => {
  it("a build-arg value and a build secret it prints show as ***; the log masks both before the build", async () => {
    world = await newWorld();
    const [argValue, secretValue] = ["hf_buildarg_value_0123", "hf_buildsecret_value_4567"];
    const { job } = world.job(
      {
        name: OWN_NAME,
        "build-args": `HF_TOKEN=${argValue}\nDEBUG=1`,
        "build-secrets": `hf_token=${secretValue}`,
      },
      {
        dockerfile: [
          "FROM scratch",
          "COPY busybox /bin/busybox",
          INSTALL,
          "ARG HF_TOKEN",
          'RUN --mount=type=secret,id=hf_token echo "arg $HF_TOKEN secret $(cat /run/secrets/hf_token)"; exit 3',
        ].join("\n"),
      },
    );
    const result = await job.main();
    expect(result.code).toBe(1);
    const body = world.comments()[0]!.body;
    expect(body).toContain('state="failed"');
    expect(body).toContain("arg *** secret ***");
    for (const value of [argValue, secretValue]) {
      expect(body).not.toContain(value);
      expect(result.summary).not.toContain(value);
      // The runner masks what ::add-mask:: named from then on: the mask comes before any line that holds it.
      const mask = result.stdout.indexOf(`::add-mask::${value}`);
      expect(mask, value).toBeGreaterThanOrEqual(0);
      const said = firstSaid(result.stdout, value);
      if (said >= 0) expect(mask).toBeLessThan(said);
    }
    // Short values are not masked: "1" would turn every 1 in the log into ***.
    expect(result.stdout).not.toContain("::add-mask::1\n");
  });

  it("the workspace's .git/config with the job token (actions/checkout): the build gets it without the token", async () => {
    world = await newWorld();
    const basic = Buffer.from(`x-access-token:${JOB_TOKEN}`).toString("base64");
    const { job } = world.job(
      { name: OWN_NAME },
      {
        dockerfile: [
          "FROM scratch",
          "COPY busybox /bin/busybox",
          INSTALL,
          "COPY .git/config /config",
          "RUN cat /config; exit 3",
        ].join("\n"),
      },
    );
    mkdirSync(join(job.workspace, ".git"), { recursive: true });
    writeFileSync(
      join(job.workspace, ".git/config"),
      [
        "[core]",
        "\trepositoryformatversion = 0",
        '[remote "origin"]',
        "\turl = https://github.com/octo-org/ml-app",
        '[http "https://github.com/"]',
        `\textraheader = AUTHORIZATION: basic ${basic}`,
        "",
      ].join("\n"),
    );
    const result = await job.main();
    expect(result.code).toBe(1);
    const body = world.comments()[0]!.body;
    expect(body).toContain("url = https://github.com/octo-org/ml-app");
    expect(body).toContain('[http "https://github.com/"]');
    expect(body).not.toContain("extraheader");
    expect(world.everythingSaid(result)).not.toContain(basic);
    expect(result.stdout.match(/holds a git credential/g)).toHaveLength(1);
  });
});

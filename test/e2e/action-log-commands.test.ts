import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { busyboxHttpdDockerfile } from "../support/docker.js";
import { buildTestImage, removeTestImages, uniqueRun } from "../support/preview-containers.js";
import { type PreviewWorld, previewHooks } from "../support/preview-fixture.js";
import type { StepResult } from "../support/runner.js";

/**
 * Its own preview name: its images differ from other files' "app" of the same repository and PR, and a new
 * image under that tag supersedes (removes) the one another file's job is about to run.
 */
const OWN_NAME = "log-commands";

// The pull request's build and app print workflow commands; the bundled action runs under the runner
// harness, which carries out commands from the step's output exactly as actions/runner does
// (test/support/workflow-commands.ts). Nothing the PR prints may become an annotation, a saved state or an
// output, and the post step never touches what this run did not make: an unrelated container, a file, a
// process, whose ids the PR's lines name.
const { docker, newWorld } = previewHooks();
let world: PreviewWorld;
const run = uniqueRun("log-commands");
const victimImage = `ml-preview-victim:${run}`;
let dir: string;

beforeAll(() => {
  buildTestImage(
    victimImage,
    run,
    'FROM scratch\nCOPY busybox /bin/busybox\nCMD ["/bin/busybox", "sleep", "600"]',
  );
  dir = mkdtempSync(join(tmpdir(), "ml-preview-victims-"));
});
afterAll(async () => {
  await removeTestImages(docker, run);
  rmSync(dir, { recursive: true, force: true });
});

/** Things of the machine that are not this run's: a container, a file (and its .log twin), a process. */
async function victims() {
  const container = await docker.createContainer({ Image: victimImage, Labels: { "test.victim": run } });
  await container.start();
  const file = join(dir, `model-${Date.now()}.events`);
  writeFileSync(file, "weights");
  writeFileSync(file.replace(/\.events$/, ".log"), "log");
  // Named like the holder, so a check of the name alone would take it for one.
  const script = join(dir, "holder.js");
  writeFileSync(script, "setInterval(() => {}, 1000);");
  const process_: ChildProcess = spawn(process.execPath, [script], { stdio: "ignore" });
  await new Promise((r) => process_.once("spawn", r));
  return {
    id: container.id,
    file,
    pid: process_.pid!,
    /** The lines a PR prints to take them over. */
    lines: [
      `::save-state name=container::${container.id}`,
      `::save-state name=events::${file}`,
      `::save-state name=holder::${process_.pid}`,
      "::set-output name=url::https://evil.example",
      "::warning::pwned",
      "##[warning]pwned-legacy",
      "::error file=app.py,line=1::pwned-error",
    ],
    async untouched() {
      expect((await docker.getContainer(container.id).inspect()).State.Running).toBe(true);
      expect(existsSync(file)).toBe(true);
      expect(existsSync(file.replace(/\.events$/, ".log"))).toBe(true);
      expect(process_.exitCode).toBeNull();
      expect(process_.signalCode).toBeNull();
    },
    async remove() {
      process_.kill("SIGKILL");
      await docker
        .getContainer(container.id)
        .remove({ force: true })
        .catch(() => undefined);
    },
  };
}

/** No annotation, saved state or output came from the PR's lines. */
function nothingTaken(result: StepResult, forged: { id: string; file: string; pid: number }) {
  // The Action's own ::error:: may quote the build (escaped, one annotation); the PR's lines make none.
  expect(result.annotations.filter((a) => a.message.startsWith("pwned") || a.properties.file)).toEqual([]);
  expect(result.commandFailures).toEqual([]);
  expect(Object.values(result.state)).not.toContain(forged.id);
  expect(Object.values(result.state)).not.toContain(forged.file);
  expect(Object.values(result.state)).not.toContain(String(forged.pid));
  expect(result.outputs.url ?? "").not.toContain("evil");
}

const shellEcho = (lines: string[]) => lines.map((l) => `echo '${l}'`).join("; ");

describe("workflow commands in the pull request's output", () => {
  for (const [wait, fails] of [
    ["true", true],
    ["false", false],
  ] as const) {
    it(`a build that prints them and ${fails ? "fails" : "succeeds"} (wait: ${wait}): printed, not obeyed; post removes and deletes nothing of others`, async () => {
      world = await newWorld();
      const v = await victims();
      try {
        // A nonce, so the step runs (a cached step prints nothing).
        const dockerfile = busyboxHttpdDockerfile(8080).replace(
          "EXPOSE",
          `RUN echo ${Date.now()}-${process.pid}; ${shellEcho(v.lines)}${fails ? "; exit 1" : ""}\nEXPOSE`,
        );
        const { job } = world.job({ tunnel: "none", wait, duration: "10m", name: OWN_NAME }, { dockerfile });
        const main = await job.main();
        expect(main.outputs.status).toBe(fails ? "failed" : "live");
        expect(main.stdout).toContain("##[warning]pwned-legacy"); // shown to people, as text
        nothingTaken(main, v);
        const post = await job.post();
        nothingTaken(post, v);
        await v.untouched();
      } finally {
        await v.remove();
      }
    });
  }

  for (const wait of ["true", "false"]) {
    it(`an app that prints them and exits (wait: ${wait}): printed, not obeyed`, async () => {
      world = await newWorld();
      const v = await victims();
      try {
        const dockerfile = busyboxHttpdDockerfile(8080).replace(
          /CMD .*/,
          `CMD ["/bin/sh", "-c", "${shellEcho(v.lines).replace(/"/g, '\\"')}; exit 3"]`,
        );
        const { job } = world.job({ tunnel: "none", wait, name: OWN_NAME }, { dockerfile });
        const main = await job.main();
        expect(main.code).toBe(1);
        expect(main.stdout).toContain("::warning::pwned"); // shown to people, as text
        nothingTaken(main, v);
        const post = await job.post();
        nothingTaken(post, v);
        await v.untouched();
      } finally {
        await v.remove();
      }
    });
  }

  it("a PR comment naming another preview: the name is quoted in the log, never obeyed", async () => {
    world = await newWorld();
    // Anyone may comment; the name (one word) is quoted before the commenter's permission is asked.
    const { job } = world.commandJob("/preview ##[warning]pwned", "stranger");
    const main = await job.main();
    expect(main.code).toBe(0);
    expect(main.stdout).toContain("The command is for the preview `##[warning]pwned`");
    expect(main.annotations).toEqual([]);
    expect(main.state).toEqual({});
  });

  it("post handed forged state anyway: leaves what is not this run's and says so in one warning", async () => {
    world = await newWorld();
    const v = await victims();
    try {
      const { job } = world.job({ tunnel: "none", duration: "1s" });
      expect((await job.main()).outputs.status).toBe("expired");
      const post = await job.post({
        STATE_container: v.id,
        STATE_events: v.file,
        STATE_holder: String(v.pid),
        STATE_comment: "12; DROP",
      });
      expect(post.code).toBe(0);
      const warnings = post.annotations.filter((a) => /ignored saved state/.test(a.message));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]!.message).toMatch(/holder \d+ \(not this run's preview holder\)/);
      expect(warnings[0]!.message).toMatch(/container [0-9a-f]{12} \(it does not carry this run's labels\)/);
      expect(warnings[0]!.message).toMatch(/events ".*" \(not a file this run made\)/);
      expect(warnings[0]!.message).toMatch(/comment "12; DROP" \(not a comment id\)/);
      await v.untouched();
    } finally {
      await v.remove();
    }
  });
});

import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { register, runIdFor } from "../../src/cli/previews.js";
import { ACTION_DIR } from "../support/runner.js";

// `ML_PREVIEW_STATE_DIR` may be pointed anywhere, a folder other users share included. `down --all` must end
// only the caller's own previews: a record another user wrote, or one naming another user's process, is
// reported and left alone; and a state folder others could write to is refused before anything is done.
// The other user is `nobody` (uid 65534), through util-linux's setpriv; the tests run as root.
const NOBODY = 65534;
const started: ChildProcess[] = [];

afterEach(() => {
  for (const p of started.splice(0)) p.kill("SIGKILL");
});

/**
 * A process that looks like a live ml-preview (`node …/cli.js up`: what `down` checks a record's process
 * for), run as `uid`. The script lives where every user can read it.
 */
async function fakePreview(uid?: number): Promise<ChildProcess> {
  const dir = mkdtempSync(join(tmpdir(), "fake-ml-preview-"));
  chmodSync(dir, 0o755);
  const script = join(dir, "cli.js");
  writeFileSync(script, "process.stdout.write('up\\n'); setInterval(() => {}, 1 << 30);\n");
  chmodSync(script, 0o644);
  const argv = [process.execPath, script, "up"];
  const as = uid === undefined ? [] : ["setpriv", "--reuid", `${uid}`, "--regid", `${uid}`, "--clear-groups"];
  const [cmd, ...args] = [...as, ...argv];
  const child = spawn(cmd!, args, { stdio: ["ignore", "pipe", "inherit"] });
  started.push(child);
  // Once it printed, it runs the script (setpriv has exec'd node under the same pid).
  await new Promise((resolve) => child.stdout!.once("data", resolve));
  return child;
}

/** A record in the state folder, as `up` writes it, for the process `pid`. */
function recordFor(dir: string, name: string, pid: number): string {
  const runId = runIdFor(pid);
  register(dir, { name, runId, pid, command: "up", startedAt: new Date().toISOString() });
  return join(dir, `${runId.replace(/[:/]/g, "_")}.json`);
}

function cli(args: string[], stateDir: string): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, [join(ACTION_DIR, "dist/cli.js"), ...args], {
    // No Docker engine: these tests are about records and processes only.
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ML_PREVIEW_STATE_DIR: stateDir,
      DOCKER_HOST: "unix:///nonexistent/docker.sock",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (err += d));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, out, err })));
}

const alive = (p: ChildProcess) => p.exitCode === null && p.signalCode === null;

describe("down --all in a state folder with other users' records", () => {
  it("ends the caller's own preview, and only reports another uid's record or process", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cli-state-"));
    const mine = await fakePreview();
    recordFor(dir, "mine", mine.pid!);
    // Written by the caller, but naming a process of another user (as a planted record would).
    const victim = await fakePreview(NOBODY);
    recordFor(dir, "victims-process", victim.pid!);
    // The caller's own process, named by a record another user wrote.
    const bait = await fakePreview();
    chownSync(recordFor(dir, "planted-record", bait.pid!), NOBODY, NOBODY);

    const minesEnd = new Promise((resolve) => mine.once("exit", resolve));
    const down = await cli(["down", "--all"], dir);
    expect(down.err).toContain('Stopped "mine"');
    await minesEnd;
    expect(down.err).toMatch(
      new RegExp(`left alone "victims-process": its process ${victim.pid} runs as uid ${NOBODY}, not as you`),
    );
    expect(down.err).toMatch(/left alone "planted-record": its record \S+ belongs to uid 65534, not to you/);
    expect(down.code).toBe(1);
    expect(alive(victim)).toBe(true);
    expect(alive(bait)).toBe(true);

    // ls lists neither, and says why.
    const ls = await cli(["ls", "--json"], dir);
    expect(ls.code).toBe(0);
    expect(ls.out).toBe("");
    expect(ls.err).toMatch(/not listed "victims-process"/);
    expect(ls.err).toMatch(/not listed "planted-record"/);
  });

  it("a record naming a process of the caller that is not ml-preview is left alone too", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cli-state-"));
    const other = spawn("sleep", ["600"]);
    started.push(other);
    await new Promise((resolve) => other.once("spawn", resolve));
    recordFor(dir, "not-a-preview", other.pid!);
    const down = await cli(["down", "not-a-preview"], dir);
    expect(down.code).toBe(1);
    expect(down.err).toMatch(
      new RegExp(`left alone "not-a-preview": its process ${other.pid} is not ml-preview`),
    );
    expect(alive(other)).toBe(true);
  });
});

describe("the state folder itself", () => {
  it("is refused, naming ML_PREVIEW_STATE_DIR, when others can write to it or another user owns it", async () => {
    const open = mkdtempSync(join(tmpdir(), "cli-state-"));
    chmodSync(open, 0o777);
    const ls = await cli(["ls"], open);
    expect(ls.code).toBe(2);
    expect(ls.err).toMatch(
      /^ml-preview: ML_PREVIEW_STATE_DIR \(\S+\) can be written by every user \(mode 777\).*chmod 700/,
    );
    const theirs = mkdtempSync(join(tmpdir(), "cli-state-"));
    chownSync(theirs, NOBODY, NOBODY);
    const down = await cli(["down", "--all"], theirs);
    expect(down.code).toBe(2);
    expect(down.err).toMatch(/^ml-preview: ML_PREVIEW_STATE_DIR \(\S+\) belongs to uid 65534, not to you/);
  });

  it("is made 0700 when missing", async () => {
    const dir = join(mkdtempSync(join(tmpdir(), "cli-state-")), "new", "state");
    const ls = await cli(["ls"], dir);
    expect(ls.code).toBe(0);
    expect(existsSync(dir)).toBe(true);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });
});

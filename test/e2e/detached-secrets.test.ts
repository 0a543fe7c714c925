import { type ChildProcess, spawn } from "node:child_process";
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { busyboxHttpdDockerfile, busyboxPath, containersWithLabel } from "../support/docker.js";
import { type NgrokEdge, startNgrokEdge } from "../support/ngrok-edge/index.js";
import { fetchText, type PreviewWorld, previewHooks } from "../support/preview-fixture.js";
import { ACTION_DIR } from "../support/runner.js";

// A preview held in the background (the Action's `wait: false`, the CLI's `--detach`) keeps its secrets
// out of what other users of the machine can read: the holder's command line (`ps`, /proc/PID/cmdline)
// and its log file on disk (only its owner may read it, and it holds no secret).
const TOKEN = "detached-ngrok-t0ken";
const PASSWORD = "detached-Pa55word";
const ENV_SECRET = "env-s3cret-value-42";
const secrets = [TOKEN, PASSWORD, ENV_SECRET];

/** The holder's argv, as any user of the machine reads it. */
const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");

function expectNoSecret(what: string, text: string): void {
  for (const s of secrets) expect(text, `${what} holds a secret`).not.toContain(s);
}

describe("the Action's wait: false holder", () => {
  const { docker, newWorld } = previewHooks();
  let world: PreviewWorld;

  it("gets no secret in its argv and writes none to its log (0600)", async () => {
    world = await newWorld();
    const { job, label } = world.job({
      duration: "10m",
      name: "detached-secrets",
      wait: "false",
      "basic-auth": `reviewer:${PASSWORD}`,
      env: `API_KEY=${ENV_SECRET}`,
    });
    const result = await job.main();
    expect(result.code, result.stdout).toBe(0);
    expect(result.outputs.status).toBe("live");
    const holder = Number(result.state.holder);
    const log = result.state.events!.replace(/\.events$/, ".log");
    // The world's edge takes only "test-authtoken"; the runner's job token is the emulator's.
    const jobSecrets = ["test-authtoken", "ghs_emulatortoken", PASSWORD, ENV_SECRET];
    for (const [what, text] of [
      ["argv", cmdline(holder)],
      ["log", readFileSync(log, "utf8")],
    ] as const) {
      for (const s of jobSecrets) expect(text, `the holder's ${what}`).not.toContain(s);
      expect(text).not.toContain("::add-mask::");
    }
    expect(readFileSync(log, "utf8")).toMatch(/live/i); // the log is there, and says what happened
    expect(statSync(log).mode & 0o777).toBe(0o600);
    expect((await job.post()).code).toBe(0);
    expect(await containersWithLabel(docker, label)).toEqual([]);
  });
});

describe("the CLI's --detach holder", () => {
  let edge: NgrokEdge;
  const stateDir = mkdtempSync(join(tmpdir(), "cli-state-"));
  const ca = join(mkdtempSync(join(tmpdir(), "edge-ca-")), "ca.pem");
  beforeAll(async () => {
    edge = await startNgrokEdge({ authtoken: TOKEN });
    writeFileSync(ca, edge.caCert);
  });
  afterAll(() => edge?.close());

  function cli(
    args: string[],
    cwd = ACTION_DIR,
  ): { child: ChildProcess; done: Promise<[number | null, string, string]> } {
    const child = spawn(process.execPath, [join(ACTION_DIR, "dist/cli.js"), ...args], {
      cwd,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ML_PREVIEW_STATE_DIR: stateDir },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout!.on("data", (d) => (out += d));
    child.stderr!.on("data", (d) => (err += d));
    return { child, done: new Promise((resolve) => child.on("close", (code) => resolve([code, out, err]))) };
  }

  it("gets its flags through a pipe, not argv, and its log (0600) holds no secret", async () => {
    const ctx = mkdtempSync(join(tmpdir(), "cli-app-"));
    copyFileSync(busyboxPath(), join(ctx, "busybox"));
    writeFileSync(join(ctx, "Dockerfile"), busyboxHttpdDockerfile(8080));
    const name = `secret-holder-${process.pid}`;
    const up = cli([
      "up",
      ctx,
      "--detach",
      "--json",
      "--name",
      name,
      "--ngrok-authtoken",
      TOKEN,
      "--basic-auth",
      `reviewer:${PASSWORD}`,
      "--env",
      `API_KEY=${ENV_SECRET}`,
      "--ngrok-server-addr",
      edge.serverAddr,
      "--ngrok-ca-cert",
      ca,
    ]);
    const [code, out, err] = await up.done;
    expect(code, err).toBe(0);
    const live = JSON.parse(out);
    expect(live).toMatchObject({ event: "live", url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:/) });
    // The holder really got its flags: the edge took its token, and enforces its password.
    expect((await fetchText(live.url)).status).toBe(401);

    const ls = await cli(["ls", "--json"]).done;
    const { pid } = JSON.parse(ls[1]);
    expect(cmdline(pid)).toContain(`--detached-holder ${name}`);
    expectNoSecret("the holder's argv", cmdline(pid));
    const [log] = readdirSync(stateDir).filter((f) => f.endsWith(".log"));
    const logText = readFileSync(join(stateDir, log!), "utf8");
    expect(logText).toMatch(/"event":"live"/); // the log is there, and says what happened
    expectNoSecret("the holder's log", logText);
    expect(statSync(join(stateDir, log!)).mode & 0o777).toBe(0o600);

    const down = await cli(["down", name]).done;
    expect(down[0], down[2]).toBe(0);
  });
});

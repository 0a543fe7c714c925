import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, copyFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import type Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { removeCacheVolumes } from "../../src/docker/volumes.js";
import {
  busyboxHttpdDockerfile,
  busyboxPath,
  containersWithLabel,
  networksWithLabel,
  requireDocker,
} from "../support/docker.js";
import { type EchoApp, startEchoApp } from "../support/ngrok-edge/echo-app.js";
import { type NgrokEdge, startNgrokEdge } from "../support/ngrok-edge/index.js";
import { fetchText } from "../support/preview-fixture.js";
import { ACTION_DIR } from "../support/runner.js";
import { lineSplitter, StepCommands } from "../support/workflow-commands.js";

// `ml-preview up|share` from dist/cli.js, as a user runs it: real engine, real SDK through the loopback edge.
let docker: Docker;
let edge: NgrokEdge;
let app: EchoApp;

beforeAll(async () => {
  docker = await requireDocker();
  edge = await startNgrokEdge();
  app = await startEchoApp();
});
afterAll(async () => {
  await Promise.all([edge?.close(), app?.close()]);
  // `up` keeps an app's image as its next run's build cache. The names this file gives end in its pid (apart
  // from other processes' runs), so every run would add a set: they go with it.
  const kept = await docker.listImages({ filters: { label: ["ml-preview.pr=none"] } });
  for (const image of kept)
    if (image.Labels?.["ml-preview.name"]?.endsWith(`-${process.pid}`))
      await docker.getImage(image.Id).remove({ force: true });
});

function caFile(): string {
  const file = join(mkdtempSync(join(tmpdir(), "edge-ca-")), "ca.pem");
  writeFileSync(file, edge.caCert);
  return file;
}

function appContext(dockerfile = busyboxHttpdDockerfile(8080)): string {
  const dir = mkdtempSync(join(tmpdir(), "cli-app-"));
  copyFileSync(busyboxPath(), join(dir, "busybox"));
  writeFileSync(join(dir, "Dockerfile"), dockerfile);
  return dir;
}

interface Cli {
  child: ChildProcess;
  events: Array<Record<string, unknown>>;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<number | null>;
}

/** This file's own record of "this machine's previews" (ls, down): parallel test files never share one. */
const stateDir = mkdtempSync(join(tmpdir(), "cli-state-"));

function cli(args: string[], cwd = ACTION_DIR, env: Record<string, string> = {}): Cli {
  const child = spawn(process.execPath, [join(ACTION_DIR, "dist/cli.js"), ...args], {
    cwd,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ML_PREVIEW_STATE_DIR: stateDir, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  const events: Array<Record<string, unknown>> = [];
  child.stdout!.on("data", (d) => {
    out += d;
    events.splice(
      0,
      events.length,
      ...out
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l)),
    );
  });
  child.stderr!.on("data", (d) => (err += d));
  return {
    child,
    events,
    stdout: () => out,
    stderr: () => err,
    exit: new Promise((r) => child.on("close", r)),
  };
}

/** A port nothing listens on (the kernel's pick, released again). */
function freePort(): Promise<number> {
  return new Promise((done) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => done(port));
    });
  });
}

async function until<T>(fn: () => T | undefined, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("ml-preview up", () => {
  it("--json --tunnel none: events in order, only JSON on stdout, exit 0 after expiry, nothing left", async () => {
    const ctx = appContext();
    const run = cli(["up", ctx, "--tunnel", "none", "--duration", "3s", "--json"]);
    const live = await until(() => run.events.find((e) => e.event === "live"));
    expect(live).toMatchObject({
      localUrl: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
      containerId: expect.any(String),
    });
    expect(Date.parse(live.expiresAt as string)).toBeGreaterThan(Date.now());
    expect((await fetchText(live.localUrl as string)).body).toContain("ml-preview test app");
    expect(await run.exit).toBe(0);
    expect(run.events.map((e) => e.event)).toEqual(["building", "starting", "ready", "live", "expired"]);
    expect(await containersWithLabel(docker, `ml-preview.repo=local/${basename(process.cwd())}`)).toEqual([]);
  });

  it("Ctrl-C while live: stopped, clean-up done, exit 0", async () => {
    const ctx = appContext();
    const run = cli(["up", ctx, "--tunnel", "none", "--duration", "10m", "--json", "--name", "ctrlc"]);
    const live = await until(() => run.events.find((e) => e.event === "live"));
    run.child.kill("SIGINT");
    expect(await run.exit).toBe(0);
    expect(run.events.at(-1)).toMatchObject({ event: "stopped" });
    await expect(docker.getContainer(live.containerId as string).inspect()).rejects.toMatchObject({
      statusCode: 404,
    });
  });

  it("an app that exits on start: failed with its exit code and logs, exit 1", async () => {
    const ctx = appContext(
      busyboxHttpdDockerfile(8080).replace(/CMD .*/, 'CMD ["/bin/sh", "-c", "echo no model file; exit 4"]'),
    );
    const run = cli(["up", ctx, "--tunnel", "none", "--json"]);
    expect(await run.exit).toBe(1);
    const failed = run.events.at(-1)!;
    expect(failed).toMatchObject({ event: "failed", exitCode: 4, step: "ready" });
    expect(String(failed.error)).toMatch(/exit/i);
    expect(failed.logLines).toEqual(expect.arrayContaining([expect.stringContaining("no model file")]));
  });

  it("in a workflow's `run:` step (GITHUB_ACTIONS=true) the build's and app's lines never command the runner", async () => {
    const forged = "::warning::pwned; ##[error]legacy; ::save-state name=container::0123456789ab";
    const ctx = appContext(
      busyboxHttpdDockerfile(8080)
        .replace(/CMD .*/, `CMD ["/bin/sh", "-c", "echo '${forged}'; exit 4"]`)
        .replace("FROM scratch", `FROM scratch\nLABEL note="${forged.replace(/"/g, "")}"`),
    );
    for (const json of [false, true]) {
      const run = cli(["up", ctx, "--tunnel", "none", ...(json ? ["--json"] : [])], ACTION_DIR, {
        GITHUB_ACTIONS: "true",
      });
      expect(await run.exit).toBe(1);
      const step = new StepCommands();
      for (const stream of [run.stdout(), run.stderr()]) {
        const lines = lineSplitter((l) => step.line(l));
        lines.push(stream);
        lines.end();
      }
      expect(`${run.stdout()}${run.stderr()}`).toContain("::warning::pwned");
      expect(step.annotations).toEqual([]);
      expect(step.state).toEqual({});
      if (json) expect(run.events.at(-1)).toMatchObject({ event: "failed", exitCode: 4 });
    }
  });

  it("an app on 127.0.0.1 in its container: the wait is shown, then the fix in CLI words, long before ready-timeout", async () => {
    const ctx = appContext(
      busyboxHttpdDockerfile(8080).replace(
        /CMD .*/,
        'CMD ["/bin/sh", "-c", "echo \' * Running on http://127.0.0.1:8080\'; exec httpd -f -p 127.0.0.1:8080 -h /www"]',
      ),
    );
    const run = cli(["up", ctx, "--tunnel", "none", "--port", "8080", "--name", `loopback-${process.pid}`]);
    expect(await run.exit).toBe(1);
    const err = run.stderr();
    expect(err).toMatch(
      /Waiting up to 5 min for GET \/ to answer on container port 8080 \(http:\/\/127\.0\.0\.1:\d+\)/,
    );
    expect(err).toContain("  app |  * Running on http://127.0.0.1:8080");
    const failed = err.split("\n").find((l) => l.startsWith("Preview failed at ready:"))!;
    expect(failed).toContain("The app listens on 127.0.0.1:8080 inside its container");
    expect(failed).toContain("Make it listen on 0.0.0.0");
    expect(failed).not.toMatch(/ input|runner|\$\{\{/);
  }, 15_000);

  it("bad input: exit 2, the message names the flag's input, nothing on stdout", async () => {
    const run = cli(["up", ".", "--duration", "7x", "--port", "http", "--json"]);
    expect(await run.exit).toBe(2);
    expect(run.stdout()).toBe("");
    expect(run.stderr()).toMatch(/duration "7x" is not a duration/);
    expect(run.stderr()).toMatch(/port "http" is not a TCP port/);
    const unknown = cli(["launch"]);
    expect(await unknown.exit).toBe(2);
    expect(unknown.stderr()).toMatch(/Unknown command "launch"/);
  });
});

describe("ml-preview share", () => {
  it("--port: a public URL through the tunnel for an app already running here, protected, then expiry", async () => {
    const run = cli(
      [
        "share",
        "--port",
        String(app.port),
        "--duration",
        "4s",
        "--json",
        "--ngrok-server-addr",
        edge.serverAddr,
        "--ngrok-ca-cert",
        caFile(),
        "--basic-auth",
        "ada:correct-horse",
      ],
      ACTION_DIR,
      { NGROK_AUTHTOKEN: "test-authtoken" },
    );
    const live = await until(() => run.events.find((e) => e.event === "live"));
    expect(live.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(live.containerId).toBeUndefined();
    const bind = edge.binds.at(-1)!;
    expect(JSON.parse(bind.trafficPolicy!).on_http_request[0].actions).toEqual(
      expect.arrayContaining([expect.objectContaining({ type: "basic-auth" })]),
    );
    // The edge enforces the policy: a visitor without the password is refused.
    expect((await fetchText(`${live.url as string}/`)).status).toBe(401);
    expect(await run.exit).toBe(0);
    expect(run.events.map((e) => e.event)).toEqual(["ready", "live", "expired"]);
    expect(run.stdout() + run.stderr()).not.toContain("correct-horse");
    expect(run.stdout() + run.stderr()).not.toContain("test-authtoken");
  });

  it("--oauth-client-id/--oauth-client-secret: a custom OAuth app reaches ngrok, its secret never printed", async () => {
    const run = cli(
      [
        "share",
        "--port",
        String(app.port),
        "--duration",
        "3s",
        "--json",
        "--ngrok-server-addr",
        edge.serverAddr,
        "--ngrok-ca-cert",
        caFile(),
        "--oauth-provider",
        "facebook",
        "--oauth-client-id",
        "fb-app-1234",
        "--oauth-client-secret",
        "fb-app-s3cret-value",
        "--oauth-allow-email",
        "ada@example.com",
      ],
      ACTION_DIR,
      { NGROK_AUTHTOKEN: "test-authtoken" },
    );
    const live = await until(() => run.events.find((e) => e.event === "live"));
    const actions = JSON.parse(edge.binds.at(-1)!.trafficPolicy!).on_http_request[0].actions;
    expect(actions).toEqual([
      {
        type: "oauth",
        config: { provider: "facebook", client_id: "fb-app-1234", client_secret: "fb-app-s3cret-value" },
      },
    ]);
    expect((await fetchText(`${live.url as string}/`)).status).toBe(302);
    expect(await run.exit).toBe(0);
    expect(run.stdout() + run.stderr()).not.toContain("fb-app-s3cret-value");
  });

  it("an OAuth provider ngrok manages no app for, without --oauth-client-id: exit 2 before anything starts", async () => {
    const run = cli(
      ["share", "--port", String(app.port), "--oauth-provider", "amazon", "--oauth-allow-email", "a@b.co"],
      ACTION_DIR,
      { NGROK_AUTHTOKEN: "test-authtoken" },
    );
    expect(await run.exit).toBe(2);
    expect(run.stderr()).toMatch(
      /--oauth-client-id and oauth-client-secret are required for oauth-provider amazon/,
    );
  });

  it("share without --port is a usage error (exit 2)", async () => {
    const run = cli(["share"]);
    expect(await run.exit).toBe(2);
    expect(run.stderr()).toMatch(/share needs --port/);
  });
});

describe("ml-preview without a Docker engine or a token", () => {
  it("up with no engine: one clear message naming DOCKER_HOST, exit 1, no stack trace", async () => {
    const ctx = appContext();
    const run = cli(["up", ctx, "--tunnel", "none"], ACTION_DIR, {
      DOCKER_HOST: "unix:///tmp/ml-preview-no-engine.sock",
    });
    expect(await run.exit).toBe(1);
    expect(run.stderr()).toMatch(
      /Docker engine does not answer at unix:\/\/\/tmp\/ml-preview-no-engine\.sock/,
    );
    expect(run.stderr()).not.toMatch(/\n\s+at /);
  });

  it("protections with --tunnel none: a warning that they protect nothing, before anything starts", async () => {
    const run = cli(
      ["up", appContext(), "--tunnel", "none", "--basic-auth", "ada:correct-horse"],
      ACTION_DIR,
      {
        DOCKER_HOST: "unix:///tmp/ml-preview-no-engine.sock",
      },
    );
    expect(await run.exit).toBe(1);
    expect(run.stderr()).toMatch(
      /^warning: --basic-auth is ignored with --tunnel none: there is no public URL to protect/,
    );
    expect(run.stderr()).not.toContain("correct-horse");
  });

  it("share with no token: exit 2 saying how to get a public URL", async () => {
    const run = cli(["share", "--port", "8050"]);
    expect(await run.exit).toBe(2);
    expect(run.stderr()).toMatch(/NGROK_AUTHTOKEN/);
  });
});

describe("ml-preview --detach, ls, down", () => {
  const byName = (name: string) => containersWithLabel(docker, `ml-preview.name=${name}`);

  it("--detach --json returns once live with one JSON line; ls lists it; down ends it and its container", async () => {
    const name = `detached-${process.pid}`;
    const run = cli(["up", appContext(), "--tunnel", "none", "--detach", "--json", "--name", name]);
    expect(await run.exit).toBe(0);
    expect(run.events).toHaveLength(1);
    const live = run.events[0]!;
    expect(live).toMatchObject({ event: "live", localUrl: expect.stringMatching(/^http:\/\/127\.0\.0\.1:/) });
    // A reader indexes `url` without a check: null without a tunnel, never missing.
    expect(run.stdout()).toMatch(/^\{"event":"live","url":null,"localUrl":"http:/);
    // The preview outlives the command that started it.
    expect((await fetchText(live.localUrl as string)).body).toContain("ml-preview test app");

    const ls = cli(["ls", "--json"]);
    expect(await ls.exit).toBe(0);
    expect(ls.events).toEqual([
      expect.objectContaining({ name, state: "live", localUrl: live.localUrl, expiresAt: live.expiresAt }),
    ]);
    const table = cli(["ls"]);
    expect(await table.exit).toBe(0);
    expect(table.stdout()).toMatch(
      new RegExp(`^NAME\\s+URL\\s+EXPIRES\\s+STATE\\s+PID\\n${name}\\s+http://127`),
    );
    expect(table.stdout()).toMatch(/\(in (29|30) min\)/);

    const down = cli(["down", name]);
    expect(await down.exit).toBe(0);
    expect(down.stderr()).toContain(`Stopped "${name}"`);
    expect(await byName(name)).toEqual([]);
    const after = cli(["ls", "--json"]);
    expect(await after.exit).toBe(0);
    expect(after.events).toEqual([]);
  });

  it("--detach of an app that exits at start: the failure and its exit code, exit 1, no stack trace", async () => {
    const ctx = appContext(
      busyboxHttpdDockerfile(8080).replace(/CMD .*/, 'CMD ["/bin/sh", "-c", "echo no model file; exit 4"]'),
    );
    const name = `crashy-${process.pid}`;
    const json = cli(["up", ctx, "--tunnel", "none", "--detach", "--json", "--name", name]);
    expect(await json.exit, json.stderr()).toBe(1);
    expect(json.events).toEqual([
      expect.objectContaining({ event: "failed", step: "ready", exitCode: 4, logLines: ["no model file"] }),
    ]);
    expect(json.stderr()).toMatch(
      /^ml-preview: the preview failed at ready: .*exited with code 4.*\(exit code 4\)\n$/,
    );
    // For people: the foreground run's progress as it comes, then the same failure.
    const human = cli(["up", ctx, "--tunnel", "none", "--detach", "--name", name]);
    expect(await human.exit, human.stderr()).toBe(1);
    const err = human.stderr();
    expect(err).toMatch(/^Starting "crashy-\d+" in the background; its output also goes to \/.*\.log$/m);
    expect(err).toContain("Building the app image…");
    expect(err).toMatch(/Preview failed at ready: .*\(exit code 4\)\nLast log lines:\nno model file\n/);
    for (const text of [json.stderr(), err]) expect(text).not.toMatch(/unexpected error|ENOENT|\n\s+at /);
    expect(await byName(name)).toEqual([]);
    // Nothing of the failed runs stays in the state folder: no record, events file or log.
    expect(readdirSync(stateDir).filter((f) => f.includes(name) || f.endsWith(".events"))).toEqual([]);
  });

  it("--detach for people: progress, the URL without the Ctrl-C hint, how to end it", async () => {
    const name = `detached-human-${process.pid}`;
    const run = cli(["up", appContext(), "--tunnel", "none", "--detach", "--name", name]);
    expect(await run.exit, run.stderr()).toBe(0);
    expect(run.stderr()).toContain("The app answers at http://127.0.0.1:");
    expect(run.stderr()).not.toContain("opening the tunnel");
    expect(run.stdout()).toMatch(/Preview live: http:\/\/127\.0\.0\.1:\d+\n/);
    expect(run.stdout()).toContain(`(\`ml-preview down ${name}\` ends it sooner)`);
    expect(`${run.stdout()}${run.stderr()}`).not.toContain("Ctrl-C");
    const down = cli(["down", name]);
    expect(await down.exit).toBe(0);
  });

  it("share --detach with nothing on --port: says so, exit 1; without a token it never claims the app is there", async () => {
    const port = await freePort();
    const tunnel = ["--ngrok-server-addr", edge.serverAddr, "--ngrok-ca-cert", caFile()];
    const run = cli(["share", "--port", String(port), "--detach", "--json", ...tunnel], ACTION_DIR, {
      NGROK_AUTHTOKEN: "test-authtoken",
    });
    expect(await run.exit, run.stderr()).toBe(1);
    expect(run.events).toEqual([expect.objectContaining({ event: "failed", step: "ready" })]);
    expect(run.stderr()).toContain(`Nothing listens on port ${port} on this machine`);
    expect(run.stderr()).not.toMatch(/unexpected error|ENOENT|\n\s+at /);
    const noToken = cli(["share", "--port", String(port), "--detach", "--json"]);
    expect(await noToken.exit).toBe(2);
    expect(noToken.stderr()).toContain(`Nothing listens on 127.0.0.1:${port} (--port ${port})`);
    expect(noToken.stderr()).not.toContain("already at");
    const listening = cli(["share", "--port", String(app.port), "--detach", "--json"]);
    expect(await listening.exit).toBe(2);
    expect(listening.stderr()).toContain(`Your app is already at http://127.0.0.1:${app.port}`);
  });

  it("SIGHUP (the terminal closed) ends a foreground preview like Ctrl-C", async () => {
    const name = `hup-${process.pid}`;
    const run = cli(["up", appContext(), "--tunnel", "none", "--json", "--name", name]);
    await until(() => run.events.find((e) => e.event === "live"));
    run.child.kill("SIGHUP");
    expect(await run.exit).toBe(0);
    expect(run.events.at(-1)).toMatchObject({ event: "stopped", reason: "stopped by SIGHUP" });
    expect(await byName(name)).toEqual([]);
  });

  it("kill -9 leaves a container that the next ls finds and removes", async () => {
    const name = `killed-${process.pid}`;
    const run = cli(["up", appContext(), "--tunnel", "none", "--json", "--name", name]);
    await until(() => run.events.find((e) => e.event === "live"));
    run.child.kill("SIGKILL");
    await run.exit;
    expect(await byName(name)).toHaveLength(1);
    expect(await networksWithLabel(docker, `ml-preview.name=${name}`)).toHaveLength(1);
    const ls = cli(["ls"]);
    expect(await ls.exit).toBe(0);
    expect(ls.stderr()).toContain(`Removed "${name}": its process had died.`);
    expect(ls.stdout()).not.toContain(name);
    expect(await byName(name)).toEqual([]);
    // The app's own network goes with it.
    expect(await networksWithLabel(docker, `ml-preview.name=${name}`)).toEqual([]);
  });

  it("--cache-dir volumes persist between up runs of the same folder and name; down --volumes removes them", async () => {
    const ctx = appContext();
    // The app counts its starts in the cache dir and publishes the count.
    const command = `/bin/sh -c "echo run >> /data/runs && cp /data/runs /www/runs.txt && exec httpd -f -p 8080 -h /www"`;
    const name = `cachy-${process.pid}`;
    const up = () =>
      cli(
        ["up", ".", "--tunnel", "none", "--duration", "2s", "--json", "--name", name].concat([
          "--cache-dir",
          "/data",
          "--command",
          command,
        ]),
        ctx,
      );
    onTestFinished(() => removeCacheVolumes(docker, { repo: `local/${basename(ctx)}`, name }).then(() => {}));
    for (const runs of ["run\n", "run\nrun\n"]) {
      const run = up();
      const live = await until(() => run.events.find((e) => e.event === "live"));
      expect((await fetchText(`${live.localUrl}/runs.txt`)).body, run.stderr()).toBe(runs);
      expect(await run.exit, run.stderr()).toBe(0);
    }
    const filters = { label: [`ml-preview.name=${name}`, `ml-preview.repo=local/${basename(ctx)}`] };
    expect((await docker.listVolumes({ filters })).Volumes).toHaveLength(1);
    const down = cli(["down", name, "--volumes"], ctx);
    expect(await down.exit, down.stderr()).toBe(0);
    expect(down.stderr()).toContain(`Removed 1 cache volume(s) of "${name}"`);
    expect((await docker.listVolumes({ filters })).Volumes).toEqual([]);
  });

  it("down for a name nobody uses says so (exit 1)", async () => {
    const run = cli(["down", "nobody-here"]);
    expect(await run.exit).toBe(1);
    expect(run.stderr()).toContain('no preview named "nobody-here" on this machine');
  });
});

describe("the README's notebook recipe", () => {
  /** The README's Python snippet, with `share(8050)` made `share(ARGS)`: its stdout, stderr and exit code. */
  async function snippet(args: string): Promise<{ out: string; err: string; code: unknown }> {
    const readme = readFileSync(join(ACTION_DIR, "README.md"), "utf8");
    const section = readme.split(/^### In a notebook.*$/m)[1]!.split(/^### /m)[0]!;
    const code = /```python\n([\s\S]*?)```/.exec(section)![1]!;
    expect(code).toContain("share(8050)");
    // `ml-preview` as installed, plus what only this test needs: the loopback edge instead of ngrok's cloud.
    const bin = mkdtempSync(join(tmpdir(), "bin-"));
    const shim = join(bin, "ml-preview");
    writeFileSync(
      shim,
      `#!/bin/sh\nexec "${process.execPath}" "${join(ACTION_DIR, "dist/cli.js")}" "$@" --ngrok-server-addr ${edge.serverAddr} --ngrok-ca-cert ${caFile()}\n`,
    );
    chmodSync(shim, 0o755);
    const py = spawn("python3", ["-c", code.replace("share(8050)", `share(${args})`)], {
      env: {
        PATH: `${bin}:${process.env.PATH}`,
        HOME: process.env.HOME,
        ML_PREVIEW_STATE_DIR: stateDir,
        NGROK_AUTHTOKEN: "test-authtoken",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    py.stdout.on("data", (d) => (out += d));
    py.stderr.on("data", (d) => (err += d));
    const exit = await new Promise((r) => py.on("close", r));
    return { out, err, code: exit };
  }

  it("the Python snippet gets the live URL back from share --detach --json", async () => {
    const { out, err, code } = await snippet(`${app.port}, "5m", "--name", "notebook"`);
    expect(err).toBe("");
    expect(code).toBe(0);
    const [url, until] = out.trim().split(" until ");
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(Date.parse(until!)).toBeGreaterThan(Date.now());
    expect((await fetchText(`${url}/`)).body).toBeTruthy();
    const down = cli(["down", "notebook"]);
    expect(await down.exit).toBe(0);
    expect(down.stderr()).toContain('Stopped "notebook"');
  });

  it("with --tunnel none `url` is None, not a KeyError; nothing on the port raises with the reason", async () => {
    const local = await snippet(`${app.port}, "5m", "--name", "notebook-local", "--tunnel", "none"`);
    expect(local.err).toBe("");
    expect(local.code).toBe(0);
    expect(local.out).toMatch(/^None until \d{4}-/);
    expect(await cli(["down", "notebook-local"]).exit).toBe(0);
    const port = await freePort();
    const nothing = await snippet(`${port}, "5m", "--name", "notebook-nothing"`);
    expect(nothing.code).toBe(1);
    expect(nothing.err).toContain("RuntimeError: ml-preview: the preview failed at ready");
    expect(nothing.err).toContain(`Nothing listens on port ${port}`);
  });
});

import { type ChildProcess, spawn } from "node:child_process";
import { copyFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import type Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  busyboxHttpdDockerfile,
  busyboxPath,
  containersWithLabel,
  requireDocker,
} from "../support/docker.js";
import { type EchoApp, startEchoApp } from "../support/ngrok-edge/echo-app.js";
import { type NgrokEdge, startNgrokEdge } from "../support/ngrok-edge/index.js";
import { fetchText } from "../support/preview-fixture.js";
import { ACTION_DIR } from "../support/runner.js";

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

function cli(args: string[], cwd = ACTION_DIR, env: Record<string, string> = {}): Cli {
  const child = spawn(process.execPath, [join(ACTION_DIR, "dist/cli.js"), ...args], {
    cwd,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
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
        .filter(Boolean)
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

  it("share with no token: exit 2 saying how to get a public URL", async () => {
    const run = cli(["share", "--port", "8050"]);
    expect(await run.exit).toBe(2);
    expect(run.stderr()).toMatch(/NGROK_AUTHTOKEN/);
  });
});

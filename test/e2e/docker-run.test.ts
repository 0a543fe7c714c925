import { request } from "node:http";
import type Docker from "dockerode";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startContainer } from "../../src/docker/container.js";
import { waitUntilReady } from "../../src/docker/readiness/wait.js";
import { sweepContainers } from "../../src/docker/sweep.js";
import type { AppContainer } from "../../src/docker/types.js";
import { PreviewError } from "../../src/errors.js";
import type { PreparedImage } from "../../src/lifecycle/types.js";
import { silentLogger } from "../../src/log.js";
import { busyboxHttpdDockerfile, requireDocker } from "../support/docker.js";
import {
  buildTestImage,
  labelsFor,
  leftoverContainers,
  removeTestImages,
  runOptions,
  uniqueRun,
} from "../support/preview-containers.js";
import { waitFor } from "../support/preview-fixture.js";

const run = uniqueRun("e2e-run");
let docker: Docker;
let httpd: PreparedImage;
const started: AppContainer[] = [];

beforeAll(async () => {
  docker = await requireDocker();
  httpd = buildTestImage(`ml-preview-e2e/httpd:${run}`, run, busyboxHttpdDockerfile(8080));
});

afterEach(async () => {
  await Promise.all(started.splice(0).map((app) => app.remove()));
  const left = leftoverContainers(run);
  await sweepContainers(docker, { "ml-preview.run": run }); // never leak, even when the assertion fails
  expect(left).toEqual([]);
});

afterAll(async () => {
  if (docker) await removeTestImages(docker, run);
});

async function start(name: string, opts = runOptions(), image = httpd): Promise<AppContainer> {
  const app = await startContainer(docker, image, opts, labelsFor(run, name), silentLogger);
  started.push(app);
  return app;
}

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    })
      .on("error", reject)
      .end();
  });
}

async function readyError(app: AppContainer, timeoutMs: number): Promise<PreviewError> {
  try {
    await waitUntilReady(docker, app, { timeoutMs });
  } catch (err) {
    expect(err).toBeInstanceOf(PreviewError);
    return err as PreviewError;
  }
  throw new Error("expected waitUntilReady to fail");
}

describe("startContainer + waitUntilReady (real dockerd)", () => {
  it("runs the app on 127.0.0.1 with the EXPOSEd port, hardened and labelled, and gets it ready", async () => {
    const app = await start("ready");
    expect(app.containerPort).toBe(8080); // no `port` input: the image's single EXPOSE
    expect(app.hostPort).toBeGreaterThan(0);
    expect(app.localUrl).toBe(`http://127.0.0.1:${app.hostPort}`);

    const ready = await waitUntilReady(docker, app, { timeoutMs: 20_000 });
    expect(ready.strategy).toBe("http GET /");
    const page = await get(app.localUrl);
    expect(page.status).toBe(200);
    expect(page.body).toContain("ml-preview test app");

    const info = await docker.getContainer(app.id).inspect();
    expect(info.HostConfig.PortBindings).toEqual({ "8080/tcp": [{ HostIp: "127.0.0.1", HostPort: "" }] });
    expect(info.NetworkSettings.Ports["8080/tcp"]).toEqual([
      { HostIp: "127.0.0.1", HostPort: String(app.hostPort) },
    ]);
    expect(info.HostConfig.Privileged).toBe(false);
    expect(info.HostConfig.Init).toBe(true);
    expect(info.HostConfig.AutoRemove).toBe(false);
    expect(info.HostConfig.CapDrop).toEqual(["ALL"]);
    expect(info.HostConfig.SecurityOpt).toEqual(["no-new-privileges:true"]);
    expect(info.Mounts).toEqual([]);
    expect(info.Config.Labels).toMatchObject(labelsFor(run, "ready"));
  });

  it("honours the port input, env (scrubbed from logs) and command", async () => {
    const secret = "tok-3141592653";
    const app = await start(
      "options",
      runOptions({
        port: 9090,
        env: { API_TOKEN: secret, MODE: "demo" },
        command: ["sh", "-c", 'echo "mode=$MODE token=$API_TOKEN"; exec httpd -f -p 9090 -h /www'],
        secrets: [secret],
        resources: { memoryBytes: 64 * 1024 * 1024, nanoCpus: 500_000_000 },
      }),
    );
    expect(app.containerPort).toBe(9090);
    await waitUntilReady(docker, app, { timeoutMs: 20_000 });
    // The engine copies the app's output into its log on its own: an app that answers may not be logged yet.
    const lines = await waitFor("the app's first line in its log", async () => {
      const tail = await app.tail(10);
      return tail.includes("mode=demo token=***") ? tail : undefined;
    });
    expect(lines.join("\n")).not.toContain(secret);
    const info = await docker.getContainer(app.id).inspect();
    expect(info.HostConfig.Memory).toBe(64 * 1024 * 1024);
    expect(info.HostConfig.NanoCpus).toBe(500_000_000);
  });

  it("an app that exits on start fails readiness at once with its exit code and output", async () => {
    const app = await start(
      "boom",
      runOptions({ command: ["sh", "-c", "echo boom; echo oops >&2; exit 3"] }),
    );
    // A 10 min timeout, longer than the test's own: only the exit ends the wait in time.
    const err = await readyError(app, 600_000);
    expect(err.step).toBe("ready");
    expect(err.exitCode).toBe(3);
    expect(err.logLines).toContain("boom");
    expect(err.logLines).toContain("oops");
    expect(err.message).toMatch(/exited with code 3/);
  });

  it("a command that does not exist fails with exit code 127 and advice", async () => {
    const app = await start("no-cmd", runOptions({ command: ["no-such-server"] }));
    const err = await readyError(app, 60_000);
    expect(err.exitCode).toBe(127);
    expect(err.message).toMatch(/command was not found/);
  });

  it("an app that exits while live resolves `exited` with its code", async () => {
    const app = await start(
      "crash",
      runOptions({ command: ["sh", "-c", "httpd -p 8080 -h /www; sleep 2; echo crashing; exit 5"] }),
    );
    await waitUntilReady(docker, app, { timeoutMs: 20_000 });
    const exit = await app.exited;
    expect(exit.exitCode).toBe(5);
    expect(exit.oomKilled).toBeUndefined();
    expect(await app.tail(5)).toContain("crashing");
  });

  it("an app killed for memory reports it", async () => {
    const app = await start(
      "oom",
      runOptions({
        command: ["sh", "-c", 'echo loading; x=$(head -c 300000000 /dev/zero | tr "\\0" a); echo never'],
        resources: { memoryBytes: 16 * 1024 * 1024 },
      }),
    );
    const err = await readyError(app, 60_000);
    expect(err.exitCode).toBe(137);
    expect(err.message).toMatch(/out of memory/);
    expect((await app.exited).oomKilled).toBe(true);
  });

  it("never ready: times out after ready-timeout, with the logs", async () => {
    const app = await start(
      "never",
      runOptions({ command: ["sh", "-c", "echo still loading; exec sleep 1000"] }),
    );
    const t0 = performance.now();
    const err = await readyError(app, 1500);
    const took = performance.now() - t0;
    expect(took).toBeGreaterThanOrEqual(1490);
    expect(err.step).toBe("ready");
    expect(err.code).toBe("READY_TIMEOUT");
    expect(err.logLines).toContain("still loading");
    // Docker's proxy accepts the connection and drops it: the message says nothing listens.
    expect(err.message).toMatch(/nothing answers on port/);
  });

  it("remove() ends an app that ignores SIGTERM (SIGKILL after the grace), and is safe to repeat", async () => {
    const app = await start(
      "stubborn",
      runOptions({ command: ["sh", "-c", 'trap "" TERM; exec httpd -f -p 8080 -h /www'] }),
    );
    await waitUntilReady(docker, app, { timeoutMs: 20_000 });
    // How fast is the benchmark's teardown row; the grace itself is STOP_GRACE_SECONDS (unit-tested).
    await Promise.all([app.remove(), app.remove()]);
    await app.remove();
    await expect(docker.getContainer(app.id).inspect()).rejects.toMatchObject({ statusCode: 404 });
    const exit = await app.exited;
    expect(exit.exitCode).toBe(137); // SIGKILL after the grace period
  });

  it("remove() tolerates a container that is already gone", async () => {
    const app = await start("gone", runOptions({ command: ["sleep", "1000"] }));
    await docker.getContainer(app.id).remove({ force: true });
    await app.remove();
    expect((await app.exited).exitCode).not.toBe(0);
  });

  it("sweepContainers removes ours by label, running or not, and nothing else", async () => {
    const keep = await start("keep");
    const a = await start("sweep", runOptions({ command: ["sleep", "1000"] }));
    const b = await start("sweep", runOptions({ command: ["true"] }));
    await b.exited;
    const created: Docker.Container = await docker.createContainer({
      Image: httpd.imageId,
      Labels: { ...labelsFor(run, "sweep") },
    });

    const removed = await sweepContainers(docker, { "ml-preview.run": run, "ml-preview.name": "sweep" });
    expect(removed.sort()).toEqual([a.id, b.id, created.id].sort());
    const left = await docker.listContainers({ all: true, filters: { label: [`ml-preview.run=${run}`] } });
    expect(left.map((c) => c.Id)).toEqual([keep.id]);
    await expect(sweepContainers(docker, {})).rejects.toThrow(/at least one label/);
  });
});

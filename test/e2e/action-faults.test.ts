import { execFileSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { busyboxContext, busyboxHttpdDockerfile, crashOnCueDockerfile } from "../support/docker.js";
import { EngineProxy } from "../support/engine-proxy.js";
import {
  leftContainers,
  nextRunId,
  PR,
  type PreviewWorld,
  previewHooks,
  waitFor,
} from "../support/preview-fixture.js";
import { stepSays } from "../support/runner.js";

// Faults under the bundled action: the Docker engine's socket behind a proxy the test cuts and restores
// (the preview talks to the engine only through DOCKER_HOST=unix://<proxy>; the test itself uses the real
// socket to see the truth). Whatever happens, the comment never says `live` for a dead app and no container
// is left without saying so.
let world: PreviewWorld;
let proxy: EngineProxy;
const { docker, newWorld } = previewHooks({ resetFirst: () => proxy?.close() });

const crashOnCue = crashOnCueDockerfile();

async function start(
  inputs: Record<string, string>,
  opts: { dockerfile?: string; env?: Record<string, string> },
) {
  world = await newWorld();
  proxy = await EngineProxy.start();
  const run = world.job(inputs, { ...opts, env: { DOCKER_HOST: proxy.dockerHost, ...opts.env } });
  const main = run.job.startMain();
  await waitFor("live", world.commentStateIs("live"));
  const [id] = await leftContainers(docker, run.label);
  return { ...run, main, id: id! };
}

/** Asked of the real engine, not through the proxy. */
const running = async (id: string) => (await docker.getContainer(id).inspect()).State.Running;

describe("the exit watch across an engine outage", () => {
  it("a crash while the engine is away is reported failed (code, last lines) once it is back", async () => {
    const { main, id, job } = await start({ duration: "10m" }, { dockerfile: crashOnCue });
    await proxy.cut();
    execFileSync("docker", ["exec", id, "touch", "/www/crash"]);
    await waitFor("the app to exit", async () => !(await running(id)));
    // Still live while nobody can know better; never "failed" with an unknown exit code meanwhile.
    expect(world.commentState()).toBe("live");
    await proxy.restore();
    await world.crashReported(main);
    expect((await job.post()).stdout).toContain("nothing was left behind");
  });

  it("after the outage the container is watched anew: a later crash is still seen", async () => {
    const { main, id } = await start({ duration: "10m" }, { dockerfile: crashOnCue });
    await proxy.cut();
    const before = proxy.requests;
    await proxy.restore();
    // The watch comes back on its own: it inspects the container and waits on it again.
    await waitFor("the preview to ask the engine again", () => proxy.requests >= before + 3);
    expect(world.commentState()).toBe("live");
    execFileSync("docker", ["exec", id, "touch", "/www/crash"]);
    await world.crashReported(main);
  });
});

describe("the engine lost mid-build", () => {
  it("is reported as the engine going away, not as a Dockerfile problem", async () => {
    world = await newWorld();
    proxy = await EngineProxy.start();
    // A step no other build has cached, that takes long enough to cut the engine in the middle of it.
    const slow = busyboxHttpdDockerfile(8080).replace(
      "EXPOSE",
      `RUN ["/bin/sh", "-c", "echo ${Date.now()}-${process.pid}; sleep 60"]\nEXPOSE`,
    );
    const run = world.job({ duration: "10m" }, { dockerfile: slow, env: { DOCKER_HOST: proxy.dockerHost } });
    const main = run.job.startMain();
    await stepSays(main, /sleep 60/);
    await proxy.cut();
    const result = await main.done;
    expect(result.outputs.status).toBe("failed");
    const body = world.comments()[0]!.body;
    expect(body).toContain("The Docker engine went away during the build");
    expect(body).not.toMatch(/rejected the build|Check the Dockerfile/);
    expect(result.stdout).toContain("The Docker engine went away during the build");
  });
});

describe("a live app that stops answering (docker pause)", () => {
  it("the comment says since when it does not answer, and goes back to plain live when it answers again", async () => {
    world = await newWorld();
    const run = world.job({ duration: "10m" });
    const main = run.job.startMain();
    await waitFor("live", world.commentStateIs("live"));
    const [id] = await leftContainers(docker, run.label);
    const pausedAt = Date.now();
    let said = "";
    main.child.stdout?.on("data", (d) => (said += d));
    main.child.stderr?.on("data", (d) => (said += d));
    await docker.getContainer(id!).pause();
    await waitFor("the comment to say the app does not answer", () =>
      world.comments()[0]?.body.includes("The app does not answer"),
    ).catch((err: Error) => {
      throw new Error(`${err.message}; the action said:\n${said}`);
    });
    const body = world.comments()[0]!.body;
    expect(world.commentState()).toBe("live");
    const m = /does not answer\*\* since (\d{4}-\d\d-\d\d) (\d\d:\d\d) UTC/.exec(body);
    const since = Date.parse(`${m?.[1]}T${m?.[2]}Z`);
    expect(since).toBeGreaterThanOrEqual(Math.floor(pausedAt / 60_000) * 60_000);
    expect(body).toMatch(
      /does not answer\*\* since .* \((GET \/ got no answer within|nothing answers on port)/,
    );
    await docker.getContainer(id!).unpause();
    await waitFor("the note to go away", () => !world.comments()[0]?.body.includes("does not answer"));
    expect(world.commentState()).toBe("live");
    const result = await run.job.cancel(main);
    expect(result.stdout).toMatch(/::warning::The app does not answer on its port since/);
    expect(result.stdout).toContain("The app answers again.");
  });
});

describe("an empty github-token", () => {
  it("is one clear error naming the input, before anything starts: no 401 warnings", async () => {
    world = await newWorld();
    const run = world.job({ duration: "10m", "github-token": "" });
    const result = await run.job.main();
    expect(result.code).toBe(1);
    const errors = result.stdout.split("\n").filter((l) => l.startsWith("::error::"));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^::error::github-token is empty\./);
    expect(result.stdout).not.toMatch(/401|Bad credentials|::warning::/);
    expect(world.github.requests).toEqual([]);
    expect(await leftContainers(docker, run.label)).toEqual([]);
  });
});

describe("the PR closed before live", () => {
  it("while building: the build is stopped, no tunnel is ever opened, the comment never says live", async () => {
    world = await newWorld();
    const slow = busyboxHttpdDockerfile(8080).replace(
      "EXPOSE",
      `RUN ["/bin/sh", "-c", "echo ${Date.now()}-${process.pid}; sleep 60"]\nEXPOSE`,
    );
    const run = world.job({ duration: "10m" }, { dockerfile: slow });
    const main = run.job.startMain();
    await stepSays(main, /sleep 60/);
    world.github.setPullState(PR, "closed");
    const result = await main.done;
    expect(result.code).toBe(0);
    expect(result.outputs.status).toBe("stopped");
    expect(world.commentState()).toBe("stopped");
    expect(world.comments()[0]!.body).toMatch(/closed or merged/);
    expect(world.commentStates()).not.toContain("live");
    expect(world.edge.authAttempts).toEqual([]);
  });
});

describe("the PR closed after the last poll, before the tunnel opens", () => {
  it("is seen by the check before going public: no tunnel, never live", async () => {
    world = await newWorld();
    const slow = busyboxHttpdDockerfile(8080).replace(
      "EXPOSE",
      `RUN ["/bin/sh", "-c", "echo ${Date.now()}-${process.pid}; sleep 3"]\nEXPOSE`,
    );
    // Polls 10 minutes apart: only the check right before the tunnel opens can see the close.
    const run = world.job(
      { duration: "10m" },
      { dockerfile: slow, env: { ML_PREVIEW_POLL_INTERVAL: "10m" } },
    );
    const main = run.job.startMain();
    await stepSays(main, /sleep 3/);
    world.github.setPullState(PR, "closed");
    const result = await main.done;
    expect(result.outputs.status).toBe("stopped");
    expect(world.commentStates()).not.toContain("live");
    expect(world.edge.authAttempts).toEqual([]);
  });
});

describe("a run killed outright (no finally, no post step)", () => {
  it("leaves a container that the next run of the PR removes before it starts, and says so", async () => {
    world = await newWorld();
    // Its own name: the selection is repository + PR + name, and other test files use "app".
    const inputs = { duration: "10m", name: "killed-outright" };
    const killed = world.job(inputs);
    const next = world.job(inputs);
    const first = killed.job.startMain();
    await waitFor("live", world.commentStateIs("live"));
    const [orphan] = await leftContainers(docker, killed.label);
    first.child.kill("SIGKILL");
    await first.done;
    expect(await running(orphan!)).toBe(true);

    const second = next.job.startMain();
    const said = await stepSays(second, /Removed container \w+ left behind by run \S+/);
    expect(said).toContain(orphan!.slice(0, 12));
    expect(said).toContain(`run ${killed.runId}.1`);
    await expect(docker.getContainer(orphan!).inspect()).rejects.toMatchObject({ statusCode: 404 });
    await waitFor("the next run live", () => world.commentStates().filter((s) => s === "live").length === 2);
    expect(await leftContainers(docker, next.label)).toHaveLength(1);
    const result = await next.job.cancel(second);
    expect(result.outputs.status).toBe("stopped");
  });

  it("never touches the container of a run that is still going: that one ends superseded", async () => {
    world = await newWorld();
    const inputs = { duration: "10m", name: "still-going" };
    const older = world.job(inputs);
    const newer = world.job({ ...inputs, duration: "3s" });
    const a = older.job.startMain();
    await waitFor("older live", world.commentStateIs("live"));
    const b = newer.job.startMain();
    const aResult = await a.done;
    expect(aResult.outputs.status).toBe("superseded");
    const bResult = await b.done;
    expect(bResult.stdout).not.toMatch(/left behind by run/);
    expect(bResult.outputs.status).toBe("expired");
  });
});

describe("a container left by a run on another machine sharing the engine", () => {
  it("is left alone while the Actions API says its run is in progress (or does not know it), removed once it is over", async () => {
    world = await newWorld();
    const name = "elsewhere";
    const otherRun = nextRunId();
    const tag = `ml-preview-test/elsewhere:${process.pid}`;
    execFileSync("docker", ["build", "-q", "-t", tag, busyboxContext(busyboxHttpdDockerfile(8080))]);
    try {
      // Its holder process is on another machine: nothing here can look at it, only the run can tell.
      const leftover = await docker.createContainer({
        Image: tag,
        Labels: {
          "ml-preview.repo": "octo-org/ml-app",
          "ml-preview.pr": String(PR),
          "ml-preview.name": name,
          "ml-preview.run": `${otherRun}.1`,
          "ml-preview.holder": "runner-elsewhere/4242/777",
        },
      });
      world.labels.push(`ml-preview.run=${otherRun}.1`); // checked and removed after the test like a job's
      await leftover.start();
      // A run GitHub does not know (404) or one still in progress: the container stays.
      for (const fate of ["unknown to GitHub", "in progress"]) {
        if (fate === "in progress") world.github.setWorkflowRun(otherRun, { status: "in_progress" });
        const next = world.job({ name, duration: "3s" });
        const result = await next.job.main();
        expect(result.outputs.status, fate).toBe("expired");
        expect(result.stdout, fate).not.toMatch(/left behind by run/);
        expect(await running(leftover.id), fate).toBe(true);
      }
      const asked = world.github.requests.filter((r) => r.path.includes(`/actions/runs/${otherRun}`));
      expect(asked.map((r) => r.status)).toEqual([404, 200]);

      world.github.setWorkflowRun(otherRun, { status: "completed", conclusion: "failure" });
      const second = world.job({ name, duration: "3s" });
      const b = await second.job.main();
      expect(b.outputs.status).toBe("expired");
      expect(b.stdout).toContain(
        `Removed container ${leftover.id.slice(0, 12)} left behind by run ${otherRun}.1`,
      );
      await expect(leftover.inspect()).rejects.toMatchObject({ statusCode: 404 });
    } finally {
      execFileSync("docker", ["rmi", "-f", tag]);
    }
  });
});

describe("clean-up while the engine is away", () => {
  it("main keeps trying until the engine answers again, then removes the container", async () => {
    const { main, id, job } = await start({ duration: "6s" }, {});
    await proxy.cut();
    await stepSays(main, /The Docker engine does not answer .*to remove container/);
    expect(await running(id)).toBe(true);
    await proxy.restore();
    const result = await main.done;
    expect(result.code).toBe(0);
    expect(result.outputs.status).toBe("expired");
    expect(result.stdout).not.toMatch(/Cleanup: could not/);
    await expect(docker.getContainer(id).inspect()).rejects.toMatchObject({ statusCode: 404 });
    expect((await job.post()).stdout).toContain("nothing was left behind");
  });

  it("main out of patience names the container; post says what it could not check, then removes it", async () => {
    // Its own name: the container outlives main, and a run of the same PR and name elsewhere (another file
    // at the same time) would rightly remove it as left behind before this post step gets to it.
    const { main, id, job, label } = await start(
      { duration: "4s", name: "out-of-patience" },
      { env: { ML_PREVIEW_CLEANUP_PATIENCE: "2s" } },
    );
    await proxy.cut();
    const result = await main.done;
    expect(result.outputs.status).toBe("expired");
    expect(result.stdout).toContain(`Could not remove container ${id.slice(0, 12)}`);
    expect(result.stdout).toContain(`docker rm -f ${id.slice(0, 12)}`);
    expect(await running(id)).toBe(true);

    const blind = await job.post();
    expect(blind.code).toBe(0);
    expect(blind.stdout).toContain(`container ${id.slice(0, 12)} of this run may still be running`);
    expect(blind.stdout).not.toContain("nothing was left behind");
    expect(await leftContainers(docker, label)).toEqual([id]);

    const post = job.startPost({ ML_PREVIEW_CLEANUP_PATIENCE: "5m" });
    await stepSays(post, /does not answer .*check for leftover containers/);
    await proxy.restore();
    const done = await post.done;
    expect(done.stdout).toContain(`removed 1 leftover container(s): ${id.slice(0, 12)}`);
    expect(await leftContainers(docker, label)).toEqual([]);
  });
});

describe("a chatty app", () => {
  it("cannot fill the runner's disk: its log on the engine's disk stays within the cap", async () => {
    // ~45 MB of log (as json-file stores it) before it serves.
    const chatty = busyboxHttpdDockerfile(8080).replace(
      /CMD .*/,
      `CMD ["/bin/sh", "-c", "yes 'loading shard of the model weights, a chatty line' | head -n 600000; httpd -f -p 8080 -h /www"]`,
    );
    const { main, id, job } = await start({ duration: "10m", "ready-timeout": "5m" }, { dockerfile: chatty });
    const info = await docker.getContainer(id).inspect();
    expect(info.HostConfig.LogConfig).toMatchObject({ Config: { "max-size": "10m", "max-file": "3" } });
    if (info.HostConfig.LogConfig?.Type === "json-file") {
      const files = readdirSync(dirname(info.LogPath)).filter((f) => f.startsWith(`${id}-json.log`));
      const bytes = files.reduce((sum, f) => sum + statSync(join(dirname(info.LogPath), f)).size, 0);
      expect(files.length).toBeGreaterThan(1); // it did rotate
      expect(bytes).toBeLessThanOrEqual(3 * 10 * 1024 * 1024 + 1024 * 1024);
    }
    await job.cancel(main);
  });
});

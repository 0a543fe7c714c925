import type Docker from "dockerode";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { busyboxHttpdDockerfile, requireDocker } from "../support/docker.js";
import { fetchText, leftContainers, PR, PreviewWorld, waitFor } from "../support/preview-fixture.js";

// How a live or starting preview ends early: cancellation in every phase, a crash of main, the PR closing,
// the app crashing, a newer run taking over. Always: nothing left, and the comment tells the truth.
let docker: Docker;
let world: PreviewWorld;
const labels: string[] = [];

beforeAll(async () => {
  docker = await requireDocker();
});
afterEach(async () => {
  for (const label of labels.splice(0)) expect(await leftContainers(docker, label), label).toEqual([]);
  await world?.close();
});

const slowBuild = busyboxHttpdDockerfile(8080).replace(
  "EXPOSE",
  'RUN ["/bin/busybox", "sleep", "25"]\nEXPOSE',
);
const neverReady = busyboxHttpdDockerfile(8080).replace(/CMD .*/, 'CMD ["/bin/busybox", "sleep", "600"]');

describe("cancellation (SIGINT, SIGTERM 7.5 s later, SIGKILL 2.5 s after)", () => {
  it.each([
    ["building", slowBuild, "building"],
    ["the readiness wait", neverReady, "starting"],
    ["live", busyboxHttpdDockerfile(8080), "live"],
  ])(
    "during %s: main cleans up inside the window, the comment ends stopped",
    async (_phase, dockerfile, waitState) => {
      world = await PreviewWorld.start();
      const { job, label } = world.job({ duration: "10m", "ready-timeout": "5m" }, { dockerfile });
      labels.push(label);
      const main = job.startMain();
      await waitFor(`the comment to say ${waitState}`, world.commentStateIs(waitState));
      await new Promise((r) => setTimeout(r, 1000));
      const result = await job.cancel(main);
      // Cleanup finished before the runner would have escalated to SIGTERM.
      expect(result.signal).toBeNull();
      expect(result.cancelledAfterMs).toBeLessThan(7500);
      expect(world.commentState()).toBe("stopped");
      expect(world.comments()[0]!.body).toMatch(/cancelled/);
      const post = await job.post();
      expect(post.code).toBe(0);
      expect(await leftContainers(docker, label)).toEqual([]);
    },
  );

  it("after main is killed outright, the post step removes the container and marks the comment stopped", async () => {
    world = await PreviewWorld.start();
    const { job, label } = world.job({ duration: "10m" });
    labels.push(label);
    const main = job.startMain();
    await waitFor("live", world.commentStateIs("live"));
    main.child.kill("SIGKILL");
    await main.done;
    expect(await leftContainers(docker, label)).toHaveLength(1);
    const post = await job.post();
    expect(post.code).toBe(0);
    expect(post.stdout).toMatch(/did not end on its own/);
    expect(await leftContainers(docker, label)).toEqual([]);
    expect(world.commentState()).toBe("stopped");
  });
});

describe("a tunnel that cannot be opened", () => {
  it("fails the preview while the app is still starting (not after the readiness timeout), nothing left", async () => {
    world = await PreviewWorld.start();
    const token = "wrong-authtoken-Zq81";
    const { job, label } = world.job(
      { duration: "10m", "ready-timeout": "5m", "ngrok-authtoken": token },
      { dockerfile: neverReady },
    );
    labels.push(label);
    const started = Date.now();
    const result = await job.main();
    // The image is a cached busybox build: well under the 5 min the app would be waited for.
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(result.code).toBe(1);
    expect(result.outputs.status).toBe("failed");
    expect(world.commentState()).toBe("failed");
    const body = world.comments()[0]!.body;
    expect(body).toMatch(/tunnel/);
    expect(body).toContain("ERR_NGROK_105");
    expect(world.edge.authAttempts.map((a) => a.ok)).toEqual([false]);
    expect(world.everythingSaid(result)).not.toContain(token);
    expect(result.stdout).toContain(`::add-mask::${token}`);
    expect(await leftContainers(docker, label)).toEqual([]);
  });
});

describe("a live preview ends early", () => {
  it("when the PR is closed: stopped within 2 poll intervals", async () => {
    world = await PreviewWorld.start();
    const { job, label } = world.job({ duration: "10m" });
    labels.push(label);
    const main = job.startMain();
    await waitFor("live", world.commentStateIs("live"));
    const closedAt = Date.now();
    world.github.setPullState(PR, "closed", true);
    await waitFor("stopped", world.commentStateIs("stopped"), 10_000);
    expect(Date.now() - closedAt).toBeLessThan(2 * 1000 + 1000);
    expect(world.comments()[0]!.body).toMatch(/closed or merged/);
    expect((await main.done).code).toBe(0);
  });

  it("when the app crashes: failed with its exit code and last log lines within 5 s", async () => {
    world = await PreviewWorld.start();
    const crashing = busyboxHttpdDockerfile(8080).replace(
      /CMD .*/,
      `CMD ["/bin/sh", "-c", "httpd -p 8080 -h /www; sleep 4; echo 'model weights corrupted'; exit 3"]`,
    );
    const { job, label } = world.job({ duration: "10m" }, { dockerfile: crashing });
    labels.push(label);
    const main = job.startMain();
    await waitFor("live", world.commentStateIs("live"));
    const liveAt = Date.now();
    await waitFor("failed", world.commentStateIs("failed"), 15_000);
    expect(Date.now() - liveAt).toBeLessThan(4000 + 5000);
    const body = world.comments()[0]!.body;
    expect(body).toMatch(/exit code\D*3/i);
    expect(body).toContain("model weights corrupted");
    const result = await main.done;
    expect(result.code).toBe(1);
    expect(result.outputs.status).toBe("failed");
  });

  it("when a newer run takes over: the older ends superseded, one comment, the newer's state wins", async () => {
    world = await PreviewWorld.start();
    const older = world.job({ duration: "10m" });
    const newer = world.job({ duration: "4s" });
    labels.push(older.label, newer.label);
    const a = older.job.startMain();
    await waitFor("older live", world.commentStateIs("live"));
    const b = newer.job.startMain();
    const aResult = await a.done;
    expect(aResult.code).toBe(0);
    expect(aResult.outputs.status).toBe("superseded");
    const bResult = await b.done;
    expect(bResult.outputs.status).toBe("expired");
    expect(world.comments()).toHaveLength(1);
    expect(world.comments()[0]!.body).toContain(`run="${newer.runId}.1"`);
    expect(world.commentState()).toBe("expired");
    // The older run never wrote after the newer one started writing.
    const writes = world.commentStates();
    expect(writes.filter((s) => s === "superseded")).toEqual([]);
  });
});

describe("wait: false", () => {
  it("main returns once live with outputs; a later step reaches the URL; post ends the preview", async () => {
    world = await PreviewWorld.start();
    const { job, label } = world.job({ duration: "10m", wait: "false" });
    labels.push(label);
    const result = await job.main();
    expect(result.code).toBe(0);
    expect(result.outputs.status).toBe("live");
    const url = result.outputs.url!;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const { body } = await fetchText(url);
    expect(body).toContain("ml-preview test app");
    expect(world.commentState()).toBe("live");
    const post = await job.post();
    expect(post.code).toBe(0);
    expect(world.commentState()).toBe("stopped");
    expect(await leftContainers(docker, label)).toEqual([]);
  });
});

describe("wait: false, the holder killed outright", () => {
  it("post removes the container and ends both the comment and the deployment", async () => {
    world = await PreviewWorld.start();
    const { job, label } = world.job({ duration: "10m", wait: "false", deployment: "true" });
    labels.push(label);
    const result = await job.main();
    expect(result.outputs.status).toBe("live");
    const [deployment] = world.github.deployments();
    expect(deployment!.statuses.map((s) => s.state)).toEqual(["in_progress", "success"]);
    const holder = Number(result.state.holder);
    expect(holder).toBeGreaterThan(0);
    process.kill(holder, "SIGKILL");
    await waitFor("the holder to be gone", () => {
      try {
        process.kill(holder, 0);
        return false;
      } catch {
        return true;
      }
    });
    expect(await leftContainers(docker, label)).toHaveLength(1);
    const post = await job.post();
    expect(post.code).toBe(0);
    expect(await leftContainers(docker, label)).toEqual([]);
    expect(world.commentState()).toBe("stopped");
    expect(world.github.deployments()[0]!.statuses.map((s) => s.state)).toEqual([
      "in_progress",
      "success",
      "inactive",
    ]);
  });
});

describe("wait: false, main and holder killed before live", () => {
  it("post finds the ids in the holder's events and ends the comment and the deployment", async () => {
    world = await PreviewWorld.start();
    const { job, label } = world.job(
      { duration: "10m", wait: "false", deployment: "true" },
      { dockerfile: slowBuild },
    );
    labels.push(label);
    const main = job.startMain();
    await waitFor("building", world.commentStateIs("building"));
    // The holder writes its event line (with the ids) after the deployment's first status.
    await waitFor("the deployment in progress", () => world.github.deployments()[0]?.statuses.length);
    await new Promise((r) => setTimeout(r, 500));
    main.child.kill("SIGKILL");
    const holder = Number((await main.done).state.holder);
    expect(holder).toBeGreaterThan(0);
    process.kill(holder, "SIGKILL");
    const post = await job.post();
    expect(post.code).toBe(0);
    expect(world.commentState()).toBe("stopped");
    expect(world.github.deployments()[0]!.statuses.map((s) => s.state)).toEqual(["in_progress", "inactive"]);
  });
});

describe("a lost tunnel", () => {
  it("is noticed by the watchdog and replaced by a fresh session: live again, the new link answers", async () => {
    world = await PreviewWorld.start();
    const { job, label } = world.job({ duration: "10m" }, { env: { ML_PREVIEW_TUNNEL_WATCHDOG: "2s" } });
    labels.push(label);
    const main = job.startMain();
    await waitFor("live", world.commentStateIs("live"));
    const livesBefore = world.commentStates().filter((s) => s === "live").length;
    // Down longer than the SDK's first quick retry but shorter than the watchdog: the fresh session gets in.
    world.edge.dropSessions({ refuseForMs: 1500 });
    await waitFor(
      "live again",
      () => world.commentStates().filter((s) => s === "live").length > livesBefore,
      40_000,
    );
    const url = world.liveUrl()!;
    const { body } = await fetchText(url);
    expect(body).toContain("ml-preview test app");
    const result = await job.cancel(main);
    expect(result.code).toBe(0);
    expect(world.commentState()).toBe("stopped");
  });

  it("an endpoint lost while the session stays connected is a dead link: noticed, replaced", async () => {
    world = await PreviewWorld.start();
    const { job, label } = world.job({ duration: "10m" }, { env: { ML_PREVIEW_TUNNEL_WATCHDOG: "2s" } });
    labels.push(label);
    const main = job.startMain();
    await waitFor("live", world.commentStateIs("live"));
    const firstUrl = world.liveUrl()!;
    const livesBefore = world.commentStates().filter((s) => s === "live").length;
    const sessions = world.edge.sessions();
    world.edge.loseEndpoints();
    expect(await fetchText(firstUrl)).toMatchObject({
      status: 404,
      body: expect.stringContaining("ERR_NGROK_3200"),
    });
    expect(world.edge.sessions()).toBe(sessions); // the session watchdog has nothing to see
    // Polls every 1 s: failed link checks for the 2 s reconnect grace, then a fresh session, verified, and
    // the comment live again.
    await waitFor(
      "live again",
      () => world.commentStates().filter((s) => s === "live").length > livesBefore,
      30_000,
    );
    const url = world.liveUrl()!;
    expect(url).not.toBe(firstUrl);
    const { body } = await fetchText(url);
    expect(body).toContain("ml-preview test app");
    const result = await job.cancel(main);
    expect(result.stdout).toMatch(
      /The tunnel was lost \(the public link stopped working: ngrok says the endpoint is offline \(ERR_NGROK_3200\)/,
    );
  });

  it("that stays lost after one fresh try ends the preview as failed, never a silent dead link", async () => {
    world = await PreviewWorld.start();
    const { job, label } = world.job({ duration: "10m" }, { env: { ML_PREVIEW_TUNNEL_WATCHDOG: "2s" } });
    labels.push(label);
    const main = job.startMain();
    await waitFor("live", world.commentStateIs("live"));
    world.edge.dropSessions({ refuseForMs: 120_000 });
    await waitFor("failed", world.commentStateIs("failed"), 30_000);
    expect(world.comments()[0]!.body).toMatch(/tunnel/i);
    const result = await main.done;
    expect(result.code).toBe(1);
    expect(result.outputs.status).toBe("failed");
  });

  it("ngrok answering visitors for the account's plan (quota used up) fails at once with ngrok's advice", async () => {
    world = await PreviewWorld.start();
    const { job, label } = world.job({ duration: "10m" }, { env: { ML_PREVIEW_TUNNEL_WATCHDOG: "30s" } });
    labels.push(label);
    const main = job.startMain();
    await waitFor("live", world.commentStateIs("live"));
    const binds = world.edge.binds.length;
    world.edge.answerVisitorsWith(727);
    await waitFor("failed", world.commentStateIs("failed"), 30_000);
    expect(world.comments()[0]!.body).toMatch(/HTTP request limit for the month/);
    expect(world.comments()[0]!.body).toContain("https://ngrok.com/docs/errors/err_ngrok_727");
    // No fresh tunnel: it would meet the same page.
    expect(world.edge.binds.length).toBe(binds);
    const result = await main.done;
    expect(result.code).toBe(1);
    expect(result.outputs.status).toBe("failed");
  });
});

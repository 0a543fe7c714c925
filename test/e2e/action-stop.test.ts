import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { busyboxHttpdDockerfile, crashOnCueDockerfile } from "../support/docker.js";
import {
  fetchText,
  leftContainers,
  PR,
  type PreviewWorld,
  previewHooks,
  waitFor,
} from "../support/preview-fixture.js";
import { stepSays } from "../support/runner.js";

// How a live or starting preview ends early: cancellation in every phase, a crash of main, the PR closing,
// the app crashing, a newer run taking over. Always: nothing left, and the comment tells the truth.
const { docker, newWorld } = previewHooks();
let world: PreviewWorld;

/** A build step no other build has cached (it says `sleep 25` in the build log when it starts). */
const slowBuild = () =>
  busyboxHttpdDockerfile(8080, `RUN ["/bin/sh", "-c", "echo ${Date.now()}-${process.pid}; sleep 25"]`);
const neverReady = busyboxHttpdDockerfile(8080).replace(/CMD .*/, 'CMD ["/bin/busybox", "sleep", "600"]');

describe("cancellation (SIGINT, SIGTERM 7.5 s later, SIGKILL 2.5 s after)", () => {
  it.each([
    ["building", slowBuild(), "building", /sleep 25/],
    ["the readiness wait", neverReady, "starting", /::group::Waiting up to 5 min/],
    ["live", busyboxHttpdDockerfile(8080), "live", /::endgroup::/],
  ])(
    "during %s: main cleans up inside the window, the comment ends stopped",
    async (_phase, dockerfile, waitState, inPhase) => {
      world = await newWorld();
      const { job, label } = world.job({ duration: "10m", "ready-timeout": "5m" }, { dockerfile });
      const main = job.startMain();
      const said = stepSays(main, inPhase);
      await waitFor(`the comment to say ${waitState}`, world.commentStateIs(waitState));
      await said; // the step is inside the phase, not just announcing it
      const result = await job.cancel(main);
      // Cleanup finished before the runner would have escalated to SIGTERM.
      expect(result.escalatedTo).toEqual([]);
      expect(result.signal).toBeNull();
      expect(world.commentState()).toBe("stopped");
      expect(world.comments()[0]!.body).toMatch(/cancelled/);
      const post = await job.post();
      expect(post.code).toBe(0);
      expect(await leftContainers(docker, label)).toEqual([]);
    },
  );

  it("after main is killed outright, the post step removes the container and marks the comment stopped", async () => {
    world = await newWorld();
    // Its own name: a run of the same PR and name elsewhere (another file at the same time) would rightly
    // remove a container whose holder is dead before this post step gets to it.
    const { job, label, main } = await world.liveJob({ duration: "10m", name: "main-killed" });
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
    world = await newWorld();
    const token = "wrong-authtoken-Zq81";
    const { job, label } = world.job(
      { duration: "10m", "ready-timeout": "5m", "ngrok-authtoken": token },
      { dockerfile: neverReady },
    );
    // The app would be waited for 5 min, longer than the test's own timeout: only the tunnel's failure ends
    // the run in time.
    const result = await job.main();
    expect(result.stdout).not.toMatch(/not ready after/);
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
  it("when the PR is closed: stopped on one of the next 2 polls", async () => {
    world = await newWorld();
    const { main } = await world.liveJob({ duration: "10m" });
    const closedAt = world.github.requests.length;
    world.github.setPullState(PR, "closed", true);
    await waitFor("stopped", world.commentStateIs("stopped"));
    const since = world.github.requests.slice(closedAt);
    const stoppedWrite = since.findIndex(
      (r) => r.method === "PATCH" && /state=\\"stopped\\"/.test(JSON.stringify(r.body)),
    );
    const pollsBefore = since
      .slice(0, stoppedWrite)
      .filter((r) => r.method === "GET" && r.path === `/repos/octo-org/ml-app/pulls/${PR}`);
    expect(pollsBefore.length).toBeGreaterThanOrEqual(1);
    expect(pollsBefore.length).toBeLessThanOrEqual(2);
    expect(world.comments()[0]!.body).toMatch(/closed or merged/);
    expect((await main.done).code).toBe(0);
  });

  it("when the app crashes: failed with its exit code and last log lines", async () => {
    world = await newWorld();
    const { label, main } = await world.liveJob({ duration: "10m" }, { dockerfile: crashOnCueDockerfile() });
    const [id] = await leftContainers(docker, label);
    execFileSync("docker", ["exec", id!, "touch", "/www/crash"]);
    await world.crashReported(main);
  });

  it("when a newer run takes over: the older ends superseded, one comment, the newer's state wins", async () => {
    world = await newWorld();
    const older = world.job({ duration: "10m" });
    const newer = world.job({ duration: "4s" });
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
    world = await newWorld();
    const { job, label } = world.job({ duration: "10m", wait: "false" });
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
    world = await newWorld();
    const { job, label } = world.job({
      duration: "10m",
      wait: "false",
      deployment: "true",
      name: "holder-killed",
    });
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
    world = await newWorld();
    const { job } = world.job(
      { duration: "10m", wait: "false", deployment: "true" },
      { dockerfile: slowBuild() },
    );
    const main = job.startMain();
    await waitFor("building", world.commentStateIs("building"));
    // The holder writes its event line (with the ids) after the deployment's first status.
    await waitFor("the deployment in progress", () => world.github.deployments()[0]?.statuses.length);
    await waitFor("the holder's event line with the ids", () => {
      const events = job.savedState().events;
      return events && existsSync(events) && /"deploymentId":\d+/.test(readFileSync(events, "utf8"));
    });
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
    world = await newWorld();
    const { job, main } = await world.liveJob(
      { duration: "10m" },
      { env: { ML_PREVIEW_TUNNEL_WATCHDOG: "2s" } },
    );
    const livesBefore = world.commentStates().filter((s) => s === "live").length;
    // Down longer than the SDK's first quick retry but shorter than the watchdog: the fresh session gets in.
    world.edge.dropSessions({ refuseForMs: 1500 });
    await waitFor("live again", () => world.commentStates().filter((s) => s === "live").length > livesBefore);
    const url = world.liveUrl()!;
    const { body } = await fetchText(url);
    expect(body).toContain("ml-preview test app");
    const result = await job.cancel(main);
    expect(result.code).toBe(0);
    expect(world.commentState()).toBe("stopped");
  });

  it("an endpoint lost while the session stays connected is a dead link: noticed, replaced", async () => {
    world = await newWorld();
    const { job, main } = await world.liveJob(
      { duration: "10m" },
      { env: { ML_PREVIEW_TUNNEL_WATCHDOG: "2s" } },
    );
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
    await waitFor("live again", () => world.commentStates().filter((s) => s === "live").length > livesBefore);
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
    world = await newWorld();
    const { main } = await world.liveJob({ duration: "10m" }, { env: { ML_PREVIEW_TUNNEL_WATCHDOG: "2s" } });
    world.edge.dropSessions({ refuseForMs: 120_000 });
    await waitFor("failed", world.commentStateIs("failed"));
    expect(world.comments()[0]!.body).toMatch(/tunnel/i);
    const result = await main.done;
    expect(result.code).toBe(1);
    expect(result.outputs.status).toBe("failed");
  });

  it("ngrok answering visitors for the account's plan (quota used up) fails at once with ngrok's advice", async () => {
    world = await newWorld();
    const { main } = await world.liveJob({ duration: "10m" }, { env: { ML_PREVIEW_TUNNEL_WATCHDOG: "30s" } });
    const binds = world.edge.binds.length;
    world.edge.answerVisitorsWith(727);
    await waitFor("failed", world.commentStateIs("failed"));
    expect(world.comments()[0]!.body).toMatch(/HTTP request limit for the month/);
    expect(world.comments()[0]!.body).toContain("https://ngrok.com/docs/errors/err_ngrok_727");
    // No fresh tunnel: it would meet the same page.
    expect(world.edge.binds.length).toBe(binds);
    const result = await main.done;
    expect(result.code).toBe(1);
    expect(result.outputs.status).toBe("failed");
  });
});

import type Docker from "dockerode";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { busyboxHttpdDockerfile, requireDocker } from "../support/docker.js";
import { fetchText, leftContainers, PreviewWorld, waitFor } from "../support/preview-fixture.js";

// The bundled dist/ run the way the runner runs it (main, then post), against the real Docker engine,
// the real ngrok SDK through the loopback edge and real Octokit through the GitHub emulator.
let docker: Docker;
let world: PreviewWorld;
const labels: string[] = [];

beforeAll(async () => {
  docker = await requireDocker();
});
/** Every run label this file made: the only containers it may remove (the engine is shared). */
const made: string[] = [];
afterEach(async () => {
  made.push(...labels);
  for (const label of labels.splice(0)) {
    expect(await leftContainers(docker, label), `containers left with ${label}`).toEqual([]);
  }
  await world?.close();
});
afterAll(async () => {
  // Not every ml-preview.repo=octo-org/ml-app container: that took other suites' previews (and a bench
  // soak) running on the same engine at the same time.
  for (const label of made)
    for (const id of await leftContainers(docker, label))
      await docker.getContainer(id).remove({ force: true });
});

describe("action on pull_request", () => {
  it("goes building → live (the link answers through the tunnel) → expired, with outputs, summary, nothing left", async () => {
    world = await PreviewWorld.start();
    const secrets = ["correct-horse-battery", "hf_modelhubtoken123"];
    const { job, label } = world.job({
      duration: "5s",
      "basic-auth": `reviewer:${secrets[0]}`,
      env: `HF_TOKEN=${secrets[1]}\nDEBUG=1`,
    });
    labels.push(label);
    const main = job.startMain();
    const seenLive = await waitFor("the comment to say live", () =>
      world.comments()[0]?.body.includes('state="live"'),
    );
    expect(seenLive).toBe(true);
    const url = world.liveUrl()!;
    // ngrok's edge (here the loopback one) enforces basic-auth: strangers get 401, reviewers the app.
    expect((await fetchText(url)).status).toBe(401);
    const authorization = `Basic ${Buffer.from(`reviewer:${secrets[0]}`).toString("base64")}`;
    const page = await fetchText(url, { authorization });
    expect(page.body).toContain("ml-preview test app");

    const result = await main.done;
    expect(result.code).toBe(0);
    expect(result.outputs).toMatchObject({
      status: "expired",
      url,
      "comment-id": String(world.comments()[0]!.id),
    });
    expect(result.outputs["local-url"]).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(result.outputs["container-id"]).toMatch(/^[0-9a-f]{64}$/);
    expect(Date.parse(result.outputs["expires-at"]!)).toBeGreaterThan(Date.now() - 60_000);
    expect(result.summary).toContain(url);
    // Secrets never leave: not in the log (beyond the mask commands), outputs, summary or any comment body.
    const everything = world.everythingSaid(result);
    for (const s of ["test-authtoken", ...secrets]) expect(everything).not.toContain(s);
    expect(result.stdout).toContain(`::add-mask::${secrets[1]}`);
    // The wait is visible: what is awaited, in a log group that closes once the app answers.
    expect(result.stdout).toMatch(
      /::group::Waiting up to 5 min for GET \/ to answer on container port \d+ \(http:\/\/127\.0\.0\.1:\d+\)\n[\s\S]*?The app answered after [^\n]+\n::endgroup::/,
    );
    expect(world.commentStates()).toEqual(expect.arrayContaining(["building", "live", "expired"]));
    expect(world.commentStates().at(-1)).toBe("expired");
    expect(world.commentStates().indexOf("building")).toBeLessThan(world.commentStates().indexOf("live"));
    expect(world.comments()).toHaveLength(1);
    const post = await job.post();
    expect(post.code).toBe(0);
    expect(post.stdout).toContain("nothing was left behind");
  });
});

describe("the final comment write", () => {
  it("refused by GitHub at the end: the post step writes the final state", async () => {
    world = await PreviewWorld.start();
    const { job, label } = world.job({ duration: "3s" });
    labels.push(label);
    const main = job.startMain();
    await waitFor("live", () => world.comments()[0]?.body.includes('state="live"'));
    // 422 is not retried by Octokit: the `expired` write fails for good.
    world.github.failNext({ method: "PATCH", path: /\/issues\/comments\/\d+$/, status: 422, count: 1 });
    const result = await main.done;
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/::warning::Could not update the pull request comment/);
    expect(world.comments()[0]!.body).toMatch(/state="live"/);
    const post = await job.post();
    expect(post.code).toBe(0);
    expect(world.comments()[0]!.body).toMatch(/^<!-- ml-preview name="app" state="expired"/);
  });
});

describe("the preview never waits on a comment write", () => {
  it("building goes ahead while the first comment is still being posted; the latest state wins", async () => {
    world = await PreviewWorld.start();
    const held = world.github.hold({ method: "POST", path: /\/issues\/\d+\/comments$/ });
    const { job, label } = world.job({ duration: "3s" });
    labels.push(label);
    const main = job.startMain();
    await held.arrived;
    // GitHub has not answered the "building" comment, yet the image is built and the app started.
    await waitFor(
      "the app's container",
      async () => (await leftContainers(docker, label)).length > 0,
      120_000,
    );
    held.release();
    const result = await main.done;
    expect(result.code).toBe(0);
    expect(result.outputs.status).toBe("expired");
    expect(world.comments()).toHaveLength(1);
    expect(world.comments()[0]!.body).toMatch(/^<!-- ml-preview name="app" state="expired"/);
  });
});

describe("trust and GitHub's refusals", () => {
  it("a stranger's marker with a huge run number posted first: the preview still builds and gets its own comment", async () => {
    world = await PreviewWorld.start();
    const stranger = world.github.postComment(
      12,
      '<!-- ml-preview name="app" state="live" run="99999999999.1" -->\nswitched off',
      "mallory",
    );
    const { job, label, runId } = world.job({ duration: "3s" });
    labels.push(label);
    const result = await job.main();
    expect(result.code).toBe(0);
    expect(result.outputs.status).toBe("expired");
    const ours = world.comments().filter((c) => c.user === "github-actions[bot]");
    expect(ours).toHaveLength(1);
    expect(ours[0]!.body).toMatch(
      new RegExp(`^<!-- ml-preview name="app" state="expired" run="${runId}\\.1"`),
    );
    expect(world.github.comments(12).find((c) => c.id === stranger)?.body).toContain("switched off");
    expect(world.github.requests.filter((r) => r.path.endsWith(`/comments/${stranger}`))).toEqual([]);
  });

  it("without pull-requests: write: one warning naming it, no more comment attempts, the link in outputs and summary", async () => {
    world = await PreviewWorld.start();
    world.github.setPermissions({ "pull-requests": "read", issues: "read" });
    const { job, label } = world.job({ duration: "3s" });
    labels.push(label);
    const result = await job.main();
    expect(result.code).toBe(0);
    expect(result.outputs.status).toBe("expired");
    expect(result.outputs.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(result.summary).toContain(result.outputs.url!);
    const warnings = result.stdout.split("\n").filter((l) => l.startsWith("::warning::"));
    expect(warnings.filter((w) => w.includes("`pull-requests: write`"))).toHaveLength(1);
    const commentWrites = world.github.requests.filter(
      (r) => r.method !== "GET" && /\/comments/.test(r.path),
    );
    expect(commentWrites).toHaveLength(1);
    expect(world.github.comments(12)).toEqual([]);
  });

  it("a failed preview names the PR's head commit, not GITHUB_SHA (the merge commit)", async () => {
    world = await PreviewWorld.start();
    const { job, label } = world.job({}, { dockerfile: "FROM scratch\nCOPY no-such-file /x\n" });
    labels.push(label);
    const result = await job.main();
    expect(result.code).toBe(1);
    const body = world.comments()[0]!.body;
    expect(body).toMatch(/state="failed"/);
    expect(body).toContain("`feedfac`");
    expect(body).not.toContain("0123456");
    expect(result.summary).toContain("`feedfac`");
  });
});

describe("action: the app listens on 127.0.0.1 inside its container", () => {
  it("fails in seconds, not after ready-timeout, and the failed comment carries the fix", async () => {
    world = await PreviewWorld.start();
    const loopback = busyboxHttpdDockerfile(8080).replace(
      /CMD .*/,
      'CMD ["/bin/sh", "-c", "echo \' * Running on http://127.0.0.1:8080\'; exec httpd -f -p 127.0.0.1:8080 -h /www"]',
    );
    const { job, label } = world.job({ duration: "10m", "ready-timeout": "5m" }, { dockerfile: loopback });
    labels.push(label);
    const result = await job.main();
    expect(result.code).toBe(1);
    expect(result.outputs.status).toBe("failed");
    const body = world.comments()[0]!.body;
    expect(body).toContain('state="failed"');
    expect(body).toContain("The app listens on 127.0.0.1:8080 inside its container");
    expect(body).toContain("Make it listen on 0.0.0.0");
    expect(body).toContain("* Running on http://127.0.0.1:8080");
    // The app's own lines were shown while it started, inside the wait's log group.
    expect(result.stdout).toMatch(
      /::group::Waiting up to 5 min[^\n]*\n(?:(?!::endgroup::)[\s\S])* {2}app \| {2}\* Running on http:\/\/127\.0\.0\.1:8080/,
    );
  }, 60_000);
});

describe("action with wait: true and the job's time limit", () => {
  it("expires before the job's limit even after a long build, saying why; the comment shows the real expiry", async () => {
    world = await PreviewWorld.start();
    // A build no other run has cached, that takes a good part of the job's (shortened) limit.
    const slow = busyboxHttpdDockerfile(
      8080,
      `RUN ["/bin/sh", "-c", "echo ${Date.now()}-${process.pid}; sleep 6"]`,
    );
    const limitS = 40;
    const { job, label } = world.job(
      { duration: "1h" },
      { dockerfile: slow, env: { ML_PREVIEW_JOB_LIMIT: `${limitS}s` } },
    );
    labels.push(label);
    const startedAt = Date.now();
    const result = await job.startMain().done;
    expect(result.code, result.stdout.slice(-3000)).toBe(0);
    expect(result.outputs.status).toBe("expired");
    const expiresAt = Date.parse(result.outputs["expires-at"]!);
    // The job's limit counts from the step's process start (a moment after startedAt), not from live + 1 h.
    expect(expiresAt).toBeLessThanOrEqual(Date.now());
    expect(expiresAt).toBeLessThan(startedAt + (limitS + 5) * 1000);
    const live = world.comments()[0]!.body;
    expect(world.commentStates()).toEqual(expect.arrayContaining(["live", "expired"]));
    expect(live).toMatch(/state="expired"/);
    expect(live).toContain("the job holding the preview reached its time limit");
    expect(live).toContain(new Date(expiresAt).toISOString());
    expect((await job.post()).code).toBe(0);
  });
});

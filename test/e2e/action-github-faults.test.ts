import { describe, expect, it } from "vitest";
import { networksWithLabel } from "../support/docker.js";
import {
  leftContainers,
  nextRunId,
  PR,
  type PreviewWorld,
  previewHooks,
  waitFor,
} from "../support/preview-fixture.js";
import { type RunnerHarness, type StepResult, stepSays } from "../support/runner.js";

// GitHub failing while the preview runs or ends: the comment must still end up telling the truth — never
// a dead link shown as live — and a comment someone deletes comes back.
const { docker, newWorld } = previewHooks();
let world: PreviewWorld;

/**
 * The post step while GitHub answers every request with 500: the outage ends once the step says it will try
 * again (its first write given up after that request's own retries), not after a guessed time.
 */
async function postThroughOutage(job: RunnerHarness): Promise<StepResult> {
  world.github.outage(600_000);
  const running = job.startPost();
  await stepSays(running, /trying again/);
  world.github.outage(0);
  return running.done;
}

describe("the final state reaches the comment through GitHub failures", () => {
  it("expiry inside a 500 outage: main keeps trying with back-off and writes expired once GitHub answers", async () => {
    world = await newWorld();
    const { job, main } = await world.liveJob({ duration: "8s" });
    // The outage lasts until main has given one write up (after that request's own retries) and says it
    // will try again: it ends on that word, not after a guessed time.
    world.github.outage(600_000);
    await stepSays(main, /writing "expired" to the preview comment failed .*trying again/);
    world.github.outage(0);
    const result = await main.done;
    expect(result.code).toBe(0);
    expect(result.outputs.status).toBe("expired");
    expect(world.commentState()).toBe("expired");
    expect(result.stdout).toMatch(/writing "expired" to the preview comment failed .*trying again/);
    expect(world.comments()).toHaveLength(1);
    const post = await job.post();
    expect(post.code).toBe(0);
    expect(world.commentState()).toBe("expired");
  });

  it("GitHub hung when the runner cancels, then failing: the post step keeps trying and marks it stopped", async () => {
    world = await newWorld();
    const { job, label, main } = await world.liveJob({ duration: "10m" });
    world.github.hang(); // main's "stopped" never reaches GitHub
    const cancelled = await job.cancel(main);
    expect(cancelled.stdout).toMatch(/cancelled/);
    expect(world.commentState()).toBe("live");
    // GitHub comes back failing: the post step's first tries get 500s, until it says it will try again.
    world.github.endHangs();
    const post = await postThroughOutage(job);
    expect(post.code).toBe(0);
    expect(world.commentState()).toBe("stopped");
    expect(world.comments()).toHaveLength(1);
    expect(await leftContainers(docker, label)).toEqual([]);
  });
});

describe("wait: false, GitHub failing when the post step ends the preview", () => {
  it("the holder's one try fails; the post step keeps trying and the comment ends stopped", async () => {
    world = await newWorld();
    const { job } = world.job({ duration: "10m", wait: "false" });
    const main = await job.main();
    expect(main.outputs.status).toBe("live");
    const post = await postThroughOutage(job);
    expect(post.code).toBe(0);
    expect(world.commentState()).toBe("stopped");
    expect(world.comments()).toHaveLength(1);
  });
});

/**
 * A run killed outright once live (no finally, no post step): its comment still says live, and its run stays
 * in progress on GitHub until the test says it completed. Its container is the engine side's business
 * (another run's clean-up), removed here; only the comment is looked at.
 */
async function killedWhileLive(inputs: Record<string, string>) {
  const killed = await world.liveJob(inputs);
  killed.main.child.kill("SIGKILL");
  await killed.main.done;
  // What the runner's end of the job does to a killed step's leftovers (a hosted runner's machine is gone).
  for (const id of await leftContainers(docker, killed.label))
    await docker.getContainer(id).remove({ force: true });
  for (const name of await networksWithLabel(docker, killed.label)) await docker.getNetwork(name).remove();
  return { ...killed, stale: world.comments()[0]! };
}

/** The comment as it reads once its expiry is over, without waiting it out (the sweep reads it from the body). */
function expiryPassed(comment: { id: number; body: string }): void {
  const over = new Date(Date.now() - 2 * 60_000).toISOString().slice(0, 16).replace("T", " ");
  expect(comment.body).toMatch(/\*\*Expires\*\* \S+ \S+ UTC/);
  world.github.editComment(
    comment.id,
    comment.body.replace(/(\*\*Expires\*\* )\S+ \S+( UTC)/, `$1${over}$2`),
  );
}

describe("a run killed outright (no post step) leaves its comment saying live", () => {
  it("the next run on the PR replaces it: the stale comment is deleted as the new run posts its own", async () => {
    world = await newWorld();
    const { stale } = await killedWhileLive({ duration: "10m" });
    const next = world.job({ duration: "3s" });
    const result = await next.job.main();
    expect(result.outputs.status).toBe("expired");
    expect(world.comments().map((c) => c.id)).not.toContain(stale.id);
    expect(world.comments()).toHaveLength(1);
    expect(world.comments()[0]!.body).toContain(`run="${next.runId}.1"`);
    expect(world.commentState()).toBe("expired");
  });
});

describe("a later run of another name on the PR", () => {
  it("marks a killed run's live comment stopped once the Actions API says that run is over; one still at work is left", async () => {
    world = await newWorld();
    const { runId, stale } = await killedWhileLive({ duration: "10m", name: "first" });
    world.github.setWorkflowRun(runId, { status: "completed", conclusion: "cancelled" });
    // Another preview of the PR whose run is still at work (a matrix job): never touched.
    const busyRun = nextRunId();
    world.github.setWorkflowRun(busyRun, { status: "in_progress" });
    const busyBody = stale.body
      .replace('name="first"', 'name="busy"')
      .replace(/run="\d+\.\d+"/, `run="${busyRun}.1"`);
    const busy = world.github.postComment(PR, busyBody, "github-actions[bot]");
    const next = world.job({ duration: "3s", name: "second" });
    const result = await next.job.main();
    expect(result.outputs.status).toBe("expired");
    const body = (id: number) => world.github.comments(PR).find((c) => c.id === id)?.body ?? "";
    await waitFor("the killed run's comment marked", () => /state="stopped"/.test(body(stale.id)));
    expect(body(stale.id)).toMatch(/this preview is over: its run ended without saying so/);
    expect(body(stale.id)).toContain("Marked by a later ml-preview run");
    expect(body(busy)).toBe(busyBody);
  });
});

describe("the scheduled sweep (sweep/action.yml) for PRs with no later run", () => {
  it("asks the Actions API: a run in progress keeps its comment; once completed (or deleted) it is marked stopped", async () => {
    world = await newWorld();
    const { runId, stale } = await killedWhileLive({ duration: "10m" });
    const sweep = world.job({}).job;
    const early = await sweep.step("sweep.js");
    expect(early.code).toBe(0);
    expect(early.outputs.repaired).toBe("0");
    expect(world.commentState()).toBe("live");
    world.github.setWorkflowRun(runId, { status: "completed", conclusion: "cancelled" });
    // A second comment (another name) whose run was deleted: GitHub answers 404, nothing of it runs.
    const gone = stale.body
      .replace(/name="[^"]+"/, 'name="other"')
      .replace(/run="\d+\.\d+"/, 'run="999999.1"');
    const goneId = world.github.postComment(PR, gone, "github-actions[bot]");
    const result = await sweep.step("sweep.js");
    expect(result.code).toBe(0);
    expect(result.outputs.repaired).toBe("2");
    for (const id of [stale.id, goneId]) {
      const body = world.github.comments(PR).find((c) => c.id === id)!.body;
      expect(body).toMatch(/^<!-- ml-preview name="[^"]+" state="stopped" run="/);
      expect(body).toMatch(/this preview is over: its run ended without saying so/);
    }
    expect(result.stdout).not.toMatch(/::warning::/);
  });

  it("without actions: read (403) it says which permission to add and goes by the expiry; a stranger's marker is left alone", async () => {
    world = await newWorld();
    world.github.setPermissions({ actions: "none" });
    const { stale } = await killedWhileLive({ duration: "10m" });
    const pasted = stale.body.replace(/run="\d+\.\d+"/, 'run="1.1"');
    const strangers = world.github.postComment(PR, pasted, "mallory");
    const sweep = world.job({}).job;
    // Before the expiry has passed the sweep cannot tell the run is over: nothing changes.
    const early = await sweep.step("sweep.js");
    expect(early.code).toBe(0);
    expect(early.outputs.repaired).toBe("0");
    expect(early.stdout.match(/::warning::.*actions: read/g)).toHaveLength(1);
    expiryPassed(stale);
    const result = await sweep.step("sweep.js");
    expect(result.code).toBe(0);
    expect(result.outputs.repaired).toBe("1");
    const after = world.github.comments(PR);
    const ours = after.find((c) => c.id === stale.id)!;
    expect(ours.body).toMatch(/^<!-- ml-preview name="[^"]+" state="expired" run="/);
    expect(ours.body).toMatch(/this preview is over: its expiry has passed/);
    expect(after.find((c) => c.id === strangers)!.body).toBe(pasted);
  });
});

describe("a sticky comment deleted while live", () => {
  it("is posted again at the next poll, then ends like any other", async () => {
    world = await newWorld();
    const { main } = await world.liveJob({ duration: "10m" });
    const first = world.comments()[0]!;
    world.github.deleteComment(first.id);
    const again = await waitFor("the comment posted again", () =>
      world.comments().find((c) => c.id !== first.id),
    );
    expect(again.body).toContain('state="live"');
    expect(again.body).toBe(first.body);
    world.github.setPullState(PR, "closed", true);
    const result = await main.done;
    expect(result.code).toBe(0);
    expect(world.comments()).toHaveLength(1);
    expect(world.commentState()).toBe("stopped");
  });
});

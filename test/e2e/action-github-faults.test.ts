import { describe, expect, it } from "vitest";
import { leftContainers, PR, type PreviewWorld, previewHooks, waitFor } from "../support/preview-fixture.js";
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
 * A run killed outright once live (no finally, no post step): its comment still says live. Its container
 * is the engine side's business (another run's clean-up), removed here; only the comment is looked at.
 */
async function killedWhileLive(inputs: Record<string, string>): Promise<void> {
  const killed = await world.liveJob(inputs);
  killed.main.child.kill("SIGKILL");
  await killed.main.done;
  for (const id of await leftContainers(docker, killed.label))
    await docker.getContainer(id).remove({ force: true });
}

describe("a run killed outright (no post step) leaves its comment saying live", () => {
  it("the next run on the PR replaces it: the stale comment is deleted as the new run posts its own", async () => {
    world = await newWorld();
    await killedWhileLive({ duration: "10m" });
    const next = world.job({ duration: "3s" });
    const staleId = world.comments()[0]!.id;
    const result = await next.job.main();
    expect(result.outputs.status).toBe("expired");
    expect(world.comments().map((c) => c.id)).not.toContain(staleId);
    expect(world.comments()).toHaveLength(1);
    expect(world.comments()[0]!.body).toContain(`run="${next.runId}.1"`);
    expect(world.commentState()).toBe("expired");
  });
});

describe("the scheduled sweep (sweep/action.yml) for PRs with no later run", () => {
  it("marks a killed run's live comment expired once its expiry has passed; a stranger's marker is left alone", async () => {
    world = await newWorld();
    await killedWhileLive({ duration: "10m" });
    const stale = world.comments()[0]!;
    const pasted = stale.body.replace(/run="\d+\.\d+"/, 'run="1.1"');
    const strangers = world.github.postComment(PR, pasted, "mallory");
    const sweep = world.job({}).job;
    // Before the expiry has passed the sweep cannot tell the run is over: nothing changes.
    const early = await sweep.step("sweep.js");
    expect(early.code).toBe(0);
    expect(early.outputs.repaired).toBe("0");
    // Time passes, without waiting it out: the comment as it reads minutes later, its expiry moved back to
    // a minute that is over (the sweep reads the expiry from the comment alone).
    const over = new Date(Date.now() - 2 * 60_000).toISOString().slice(0, 16).replace("T", " ");
    expect(stale.body).toMatch(/\*\*Expires\*\* \S+ \S+ UTC/);
    world.github.editComment(stale.id, stale.body.replace(/(\*\*Expires\*\* )\S+ \S+( UTC)/, `$1${over}$2`));
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

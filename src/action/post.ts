import * as core from "@actions/core";
import { dockerClient } from "../docker/client.js";
import { isGone } from "../docker/docker-errors.js";
import { stopAndRemove } from "../docker/remove.js";
import { sweepContainers } from "../docker/sweep.js";
import type { PreviewLabels } from "../docker/types.js";
import { FINAL_STATES } from "../lifecycle/reporter.js";
import { readEvents } from "./events-file.js";
import { setupAction } from "./setup.js";
import { readState } from "./state.js";

/** How long the holder gets to clean up after SIGTERM before SIGKILL (the post step has no hard limit). */
const HOLDER_GRACE_MS = 15_000;

/**
 * The post step always finishes the job. After a clean main it only verifies that nothing is left; after a
 * cancel or crash it stops the holder, removes our containers (by id, then by labels) and marks the comment.
 */
export async function actionPost(): Promise<void> {
  try {
    if (readState("started") !== "true") return; // main stopped at input validation: nothing was created
    const holder = Number(readState("holder"));
    if (holder > 0) await stopHolder(holder);

    const docker = dockerClient();
    const labels = JSON.parse(readState("labels") || "{}") as Partial<PreviewLabels>;
    const leftovers: string[] = [];
    const id = readState("container");
    if (id && (await removeContainer(docker, id))) leftovers.push(id);
    if (labels["ml-preview.run"]) leftovers.push(...(await sweepContainers(docker, labels)));

    const events = readState("events");
    const finished = readState("finished") === "true" || (events !== "" && endedCleanly(events));
    if (finished) {
      if (leftovers.length > 0)
        core.warning(`ml-preview post: removed ${leftovers.length} leftover container(s).`);
      else core.info("ml-preview post: the preview ended cleanly; nothing was left behind.");
      return;
    }
    core.info(
      `ml-preview post: the preview did not end on its own (cancelled or crashed); removed ${leftovers.length} container(s).`,
    );
    await markStopped();
  } catch (err) {
    core.warning(`ml-preview post: ${(err as Error).message}`);
  }
}

function endedCleanly(eventsFile: string): boolean {
  return readEvents(eventsFile).some((e) => FINAL_STATES.includes(e.event as never));
}

/** Write `stopped` to the comment, unless a newer run owns it (StickyComment checks the marker first). */
async function markStopped(): Promise<void> {
  const id = (name: "comment" | "deployment") => Number(readState(name)) || undefined;
  const setup = await setupAction(process.env, { commentId: id("comment"), deploymentId: id("deployment") });
  if (setup.kind !== "preview") return;
  const reason = "the workflow run was cancelled or the step ended unexpectedly; the post step cleaned up";
  for (const r of setup.reporters) {
    if (r.name === "log") continue;
    await r
      .report({ event: "stopped", details: { reason, at: new Date() } })
      .catch((err: Error) => core.warning(err.message));
  }
}

/** true when the container was still there (and is now removed). */
async function removeContainer(docker: ReturnType<typeof dockerClient>, id: string): Promise<boolean> {
  const container = docker.getContainer(id);
  try {
    await container.inspect();
  } catch (err) {
    if (isGone(err)) return false;
    throw err;
  }
  await stopAndRemove(container);
  return true;
}

async function stopHolder(pid: number): Promise<void> {
  if (!alive(pid)) return;
  process.kill(pid, "SIGTERM");
  const deadline = Date.now() + HOLDER_GRACE_MS;
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (alive(pid)) process.kill(pid, "SIGKILL");
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

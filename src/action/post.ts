import { rmSync } from "node:fs";
import { join } from "node:path";
import * as core from "@actions/core";
import type { PreviewState } from "../config/types.js";
import { dockerClient } from "../docker/client.js";
import { isGone } from "../docker/docker-errors.js";
import { stopAndRemove, whileEngineAway } from "../docker/remove.js";
import { sweepContainers } from "../docker/sweep.js";
import type { EnginePatience, PreviewLabels } from "../docker/types.js";
import { retryWhileTransient } from "../github/errors.js";
import { renderSummary } from "../github/summary.js";
import { type EventLine, readEventsFile } from "../lifecycle/events-file.js";
import { cleanupPatienceMs } from "../lifecycle/poll.js";
import { FINAL_STATES } from "../lifecycle/types.js";
import {
  carriesLabels,
  holderLogOf,
  holderProcess,
  isOwnFileOrNone,
  readSavedState,
  type SavedState,
} from "./saved-state.js";
import { type ActionSetup, FINAL_WRITE_BUDGET_MS, setupAction } from "./setup.js";
import { actionsLogger, failOnUncaught, info, readState } from "./toolkit.js";

/** How long the holder gets to clean up after SIGTERM before SIGKILL (the post step has no hard limit). */
const HOLDER_GRACE_MS = 15_000;
/** How long the post step keeps trying to reach an engine that does not answer. */
const POST_CLEANUP_PATIENCE_MS = 10 * 60_000;

/**
 * The post step always finishes the job. After a clean main it only verifies that nothing is left; after a
 * cancel or crash it stops the holder, removes our containers (by id, then by labels) and marks the comment.
 */
export async function actionPost(): Promise<void> {
  failOnUncaught("ml-preview post");
  try {
    await post();
  } catch (err) {
    core.setFailed(`ml-preview post: ${(err as Error).message}`);
  }
}

async function post(): Promise<void> {
  const { state: saved, ignored } = readSavedState(readState, process.env);
  // Only what this run made is stopped, removed or deleted; anything else is named once, here.
  const warnIgnored = () => {
    if (ignored.length > 0)
      core.warning(
        `ml-preview post: ignored saved state this run did not write (a line of the step's output may have forged it): ${ignored.join("; ")}.`,
      );
  };
  if (!saved.started) return warnIgnored(); // main stopped at input validation: nothing was created
  if (saved.holder) await stopHolder(saved.holder, saved.events, ignored);

  const leftovers = await removeLeftovers(saved, ignored);
  warnIgnored();
  const eventsFile = saved.events;
  const holderEvents = eventsFile ? readEventsFile(eventsFile) : [];
  if (eventsFile) cleanHolderFiles(eventsFile);
  const last = holderEvents.findLast((e) => FINAL_STATES.includes(e.event as never));
  let made: Promise<ActionSetup> | undefined;
  const setup = () => (made ??= postSetup(saved, holderEvents));

  if (saved.finished || last) {
    if (last) await summarize(last, await setup()); // wait: false: the step's summary said "live"; add how it ended
    const outcome = saved.outcome || last?.event;
    const shows = saved.finished ? saved.commentShows : last?.commentShows;
    const commentKnown = saved.comment || holderEvents.some((e) => holderId(e.commentId));
    if (outcome && commentKnown && shows !== outcome) {
      // GitHub refused the last comment write even after retries: try again, or the link looks alive.
      await markEnded(
        outcome as PreviewState,
        "the preview ended; this final state could not be written at the time",
        setup,
      ).catch((err: Error) => core.warning(`ml-preview post: could not update the comment: ${err.message}`));
    }
    if (!leftovers.checked) return; // the warning said what is left; never "nothing was left behind"
    if (leftovers.removed.length > 0)
      core.warning(
        `ml-preview post: removed ${leftovers.removed.length} leftover container(s): ${shortIds(leftovers.removed)}.`,
      );
    else info("ml-preview post: the preview ended cleanly; nothing was left behind.");
    return;
  }
  info(
    `ml-preview post: the preview did not end on its own (cancelled or crashed); ${
      leftovers.checked
        ? `removed ${leftovers.removed.length} container(s)`
        : "its container could not be checked (see the warning above)"
    }.`,
  );
  const reason = "the workflow run was cancelled or the step ended unexpectedly; the post step cleaned up";
  await markEnded("stopped", reason, setup).catch((err: Error) =>
    core.warning(`ml-preview post: could not update the comment: ${err.message}`),
  );
}

/**
 * Our container by id, then anything else carrying this run's labels (containers, then the apps' networks:
 * sweepContainers). While the engine does not answer it is tried again with back-off
 * (ML_PREVIEW_CLEANUP_PATIENCE, default 10 min: the post step has the job's remaining time); if it still
 * cannot be checked, the warning names what may be left and how to remove it.
 */
async function removeLeftovers(
  saved: SavedState,
  ignored: string[],
): Promise<{ checked: boolean; removed: string[] }> {
  const labels: Partial<PreviewLabels> = saved.labels ?? {};
  const id = saved.container;
  const patienceMs = cleanupPatienceMs(process.env, POST_CLEANUP_PATIENCE_MS);
  const patience = {
    patienceMs,
    onWaiting: (problem: string) =>
      core.warning(
        `ml-preview post: the Docker engine does not answer (${problem}); trying again for up to ${Math.round(patienceMs / 1000)} s to check for leftover containers.`,
      ),
  };
  try {
    const docker = dockerClient();
    const removed: string[] = [];
    if (id && saved.labels && (await removeContainer(docker, id, saved.labels, patience, ignored)))
      removed.push(id);
    if (labels["ml-preview.run"])
      removed.push(...(await whileEngineAway(() => sweepContainers(docker, labels), patience)));
    return { checked: true, removed: [...new Set(removed)] };
  } catch (err) {
    const what = id ? `container ${id.slice(0, 12)}` : "containers";
    const selector = Object.entries(labels)
      .map(([k, v]) => `--filter label=${k}=${v}`)
      .join(" ");
    core.warning(
      `ml-preview post: could not check for leftover containers, so ${what} of this run may still be running: ${(err as Error).message}. ` +
        `Remove them by hand: \`docker rm -f $(docker ps -aq ${selector})\`, then their networks: \`docker network rm $(docker network ls -q ${selector})\`.`,
    );
    return { checked: false, removed: [] };
  }
}

/** true when the container was still there (and is now removed); one without this run's labels stays. */
async function removeContainer(
  docker: ReturnType<typeof dockerClient>,
  id: string,
  labels: PreviewLabels,
  patience: EnginePatience,
  ignored: string[],
): Promise<boolean> {
  const container = docker.getContainer(id);
  try {
    const found = await whileEngineAway(() => container.inspect(), patience);
    if (!carriesLabels(found.Config.Labels ?? undefined, labels)) {
      ignored.push(`container ${id.slice(0, 12)} (it does not carry this run's labels)`);
      return false;
    }
  } catch (err) {
    if (isGone(err)) return false;
    throw err;
  }
  await stopAndRemove(container, undefined, patience);
  return true;
}

const shortIds = (ids: string[]) => ids.map((i) => i.slice(0, 12)).join(", ");

/**
 * The post step's one setup (inputs, run, pull request, comment and deployment ids), made once and shared by
 * the summary and the final comment write. GitHub may still be failing (the reason main could not write):
 * it keeps trying within the final write budget.
 */
async function postSetup(saved: SavedState, holderEvents: EventLine[]): Promise<ActionSetup> {
  // A holder killed before it went live never had its ids saved by main: its events file has them.
  const fromHolder = (name: "commentId" | "deploymentId") =>
    holderEvents.map((e) => holderId(e[name])).findLast((v) => v !== undefined);
  const untilMs = Date.now() + FINAL_WRITE_BUDGET_MS;
  const restored = {
    commentId: saved.comment ?? fromHolder("commentId"),
    deploymentId: saved.deployment ?? fromHolder("deploymentId"),
    buildsNothing: true,
  };
  return retryWhileTransient(() => setupAction(process.env, restored, { untilMs }), {
    untilMs,
    log: actionsLogger,
    what: "reading the pull request to mark the preview ended",
  });
}

/** Write a final state to the comment and deployment, unless a newer run owns the comment (checked first). */
async function markEnded(
  state: PreviewState,
  reason: string,
  setup: () => Promise<ActionSetup>,
): Promise<void> {
  const made = await setup();
  if (made.kind !== "preview") return;
  for (const r of made.reporters) {
    if (r.name === "log") continue;
    await r.report({ event: state, details: { reason, at: new Date() } });
  }
}

async function summarize(last: EventLine, setup: ActionSetup): Promise<void> {
  if (setup.kind !== "preview") return;
  const report = { state: last.event as never, details: last.details };
  await core.summary
    .addRaw(renderSummary(report, { name: setup.config.name, run: setup.run, secrets: setup.config.secrets }))
    .write();
}

/** An id the holder wrote into its events file: used only if it is one. */
const holderId = (v: unknown) => (Number.isSafeInteger(v) && (v as number) > 0 ? (v as number) : undefined);

/**
 * The holder's log holds the ::add-mask:: lines of its secrets: it must not outlive the job. Only the files
 * this run made: `eventsFile` was checked (readSavedState), and each is a regular file of ours, not a link.
 */
function cleanHolderFiles(eventsFile: string): void {
  for (const f of [eventsFile, holderLogOf(eventsFile)]) if (isOwnFileOrNone(f)) rmSync(f, { force: true });
}

/** Signals only this job's holder: the saved pid must be `node <dist>/holder.js` started for `events`. */
async function stopHolder(pid: number, events: string | undefined, ignored: string[]): Promise<void> {
  const script = join(__dirname, "holder.js");
  const fate = () => (events ? holderProcess(pid, events, script) : "other");
  const first = fate();
  if (first !== "ours") {
    if (first === "other") ignored.push(`holder ${pid} (not this run's preview holder)`);
    return;
  }
  process.kill(pid, "SIGTERM");
  const deadline = Date.now() + HOLDER_GRACE_MS;
  while (fate() === "ours" && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (fate() === "ours") process.kill(pid, "SIGKILL");
}

import type { PreviewState } from "../config/types.js";
import type { Logger } from "../log.js";
import { tokenLogin } from "./comment.js";
import { utcTime } from "./format.js";
import { formatMarker, type Marker, parseMarker } from "./marker.js";
import type { Octokit } from "./octokit.js";

/** States that say a run is still at work: a comment must not keep one once its run is over. */
const RUNNING: readonly PreviewState[] = ["building", "starting", "live"];
/**
 * No GitHub-hosted job runs longer (6 h): a `building` or `starting` comment left untouched this long
 * belongs to a run that is over, though nothing in it says when it ended.
 */
const LONGEST_JOB_MS = 6 * 3600_000;

export interface StaleComment {
  readonly pr: number;
  readonly id: number;
  readonly name: string;
  readonly was: PreviewState;
  readonly now: "expired" | "stopped";
}

/**
 * What the Actions API says of the run that wrote a comment: `over` (completed, or a later attempt
 * started), `gone` (404: the run was deleted, nothing of it runs), `running` (queued, in progress,
 * waiting…), or `unknown` (the token may not read workflow runs, or GitHub failed): then only what the
 * comment says itself can decide.
 */
export type RunFate = "over" | "gone" | "running" | "unknown";

/**
 * What a comment still saying building/starting/live can be shown as. Its run still at work: nothing.
 * Its run over: `expired` once its expiry has passed, else `stopped`. Run unknown, from the comment alone:
 * `expired` once its expiry has passed; `stopped` when untouched for longer than any job runs; else nothing.
 */
export function endedState(
  body: string,
  marker: Marker,
  updatedAt: Date,
  now: Date,
  fate: RunFate = "unknown",
): "expired" | "stopped" | undefined {
  if (!RUNNING.includes(marker.state) || fate === "running") return undefined;
  const expires = /\*\*Expires\*\* (\d{4}-\d\d-\d\d \d\d:\d\d) UTC/.exec(body)?.[1];
  if (marker.state === "live" && expires) {
    // Written to the minute: the preview ended within the minute after it.
    const at = Date.parse(`${expires.replace(" ", "T")}:00Z`) + 60_000;
    if (at <= now.getTime()) return "expired";
  }
  if (fate === "over" || fate === "gone") return "stopped";
  return now.getTime() - updatedAt.getTime() > LONGEST_JOB_MS ? "stopped" : undefined;
}

/**
 * Asks the Actions API whether the run attempt a marker names (`RUN_ID.ATTEMPT`) is over. Needs
 * `actions: read`; without it GitHub answers 403 and the fate is `unknown` (`denied` says so, once).
 */
export async function runFate(
  octokit: Octokit,
  repo: { owner: string; repo: string },
  markerRun: string,
): Promise<{ fate: RunFate; denied?: boolean }> {
  const [id, attempt] = markerRun.split(".").map(Number);
  try {
    const { owner, repo: name } = repo; // only these: Octokit sends any other field as a query parameter
    const { data } = await octokit.rest.actions.getWorkflowRun({ owner, repo: name, run_id: id! });
    if ((data.run_attempt ?? 1) > (attempt ?? 1)) return { fate: "over" }; // re-run: that attempt ended
    return { fate: data.status === "completed" ? "over" : "running" };
  } catch (err) {
    const status = (err as { status?: unknown }).status;
    if (status === 404) return { fate: "gone" };
    return { fate: "unknown", denied: status === 403 };
  }
}

/** The comment as its run would have ended it: the marker says the final state, a note says why. */
const SWEEP = "the scheduled ml-preview sweep";

export function endedBody(
  body: string,
  marker: Marker,
  state: "expired" | "stopped",
  now: Date,
  by = SWEEP,
): string {
  const rest = body.trimStart().slice(body.trimStart().indexOf("\n") + 1);
  const why =
    state === "expired"
      ? "its expiry has passed"
      : "its run ended without saying so (cancelled, killed or timed out)";
  const note = `> **${state}** — this preview is over: ${why}. Its link no longer works. _(Marked by ${by} at ${utcTime(now)}.)_`;
  return `${formatMarker({ ...marker, state })}\n${note}\n\n${rest}`;
}

/**
 * The scheduled sweep: on every open PR, the preview comments written by this token's identity that still
 * say building/starting/live for a run that is over are edited to `expired` or `stopped` (endedState,
 * with the run's fate from the Actions API). A stranger's pasted marker is never touched: only our
 * identity's comments count (as for StickyComment).
 */
export async function sweepStaleComments(
  octokit: Octokit,
  run: { owner: string; repo: string },
  log: Logger,
  now = new Date(),
): Promise<StaleComment[]> {
  const repo = { owner: run.owner, repo: run.repo };
  const login = (await tokenLogin(octokit)).toLowerCase();
  const pulls = await octokit.paginate(octokit.rest.pulls.list, { ...repo, state: "open", per_page: 100 });
  const fates = runFates(octokit, repo, (m) => log.warning(m));
  const repaired: StaleComment[] = [];
  for (const pull of pulls)
    repaired.push(...(await repairPull(octokit, repo, pull.number, { login, fates, log, now, by: SWEEP })));
  return repaired;
}

/**
 * At the start of a run on a PR: the PR's other previews (other names; this name's comment the run takes
 * over itself) whose comment still says building/starting/live for a run that is over are marked so, as
 * the scheduled sweep would. A token that may not read runs is said in the log, not warned: a matrix of
 * names has comments of runs still at work on every PR.
 */
export async function repairStaleComments(
  octokit: Octokit,
  run: { owner: string; repo: string },
  pr: number,
  name: string,
  log: Logger,
  now = new Date(),
): Promise<StaleComment[]> {
  const repo = { owner: run.owner, repo: run.repo };
  const login = (await tokenLogin(octokit)).toLowerCase();
  const fates = runFates(octokit, repo, (m) => log.info(m));
  return repairPull(octokit, repo, pr, {
    login,
    fates,
    log,
    now,
    by: "a later ml-preview run",
    skipName: name,
  });
}

async function repairPull(
  octokit: Octokit,
  repo: { owner: string; repo: string },
  pr: number,
  opts: {
    login: string;
    fates: (run: string) => Promise<RunFate>;
    log: Logger;
    now: Date;
    /** Who marks it, as the note in the comment says. */
    by: string;
    skipName?: string;
  },
): Promise<StaleComment[]> {
  const comments = await octokit.paginate(octokit.rest.issues.listComments, {
    ...repo,
    issue_number: pr,
    per_page: 100,
  });
  const repaired: StaleComment[] = [];
  for (const c of comments) {
    if (c.user?.login?.toLowerCase() !== opts.login) continue;
    const marker = parseMarker(c.body ?? "");
    if (!marker || !RUNNING.includes(marker.state) || marker.name === opts.skipName) continue;
    const state = endedState(c.body!, marker, new Date(c.updated_at), opts.now, await opts.fates(marker.run));
    if (!state) continue;
    await octokit.rest.issues.updateComment({
      ...repo,
      comment_id: c.id,
      body: endedBody(c.body!, marker, state, opts.now, opts.by),
    });
    opts.log.info(`PR #${pr}: the "${marker.name}" preview comment said ${marker.state}; now ${state}.`);
    repaired.push({ pr, id: c.id, name: marker.name, was: marker.state, now: state });
  }
  return repaired;
}

/** runFate, asked once per run; a 403 is said once, with the permission that would answer it. */
function runFates(octokit: Octokit, repo: { owner: string; repo: string }, say: (message: string) => void) {
  const asked = new Map<string, RunFate>();
  let warned = false;
  return async (markerRun: string): Promise<RunFate> => {
    const known = asked.get(markerRun);
    if (known) return known;
    const { fate, denied } = await runFate(octokit, repo, markerRun);
    if (denied && !warned) {
      warned = true;
      say(
        "The token may not read workflow runs (403), so ml-preview cannot tell a run still at work from one that is over: add `actions: read` to the job's `permissions:`. Until then only comments past their expiry, or untouched for 6 hours, are marked.",
      );
    }
    asked.set(markerRun, fate);
    return fate;
  };
}

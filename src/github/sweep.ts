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
 * What a comment still saying building/starting/live can be shown as, from what it says itself: `expired`
 * once its expiry has passed; `stopped` when it has not been touched for longer than any job runs; else
 * nothing (its run may still be at work).
 */
export function endedState(
  body: string,
  marker: Marker,
  updatedAt: Date,
  now: Date,
): "expired" | "stopped" | undefined {
  if (!RUNNING.includes(marker.state)) return undefined;
  const expires = /\*\*Expires\*\* (\d{4}-\d\d-\d\d \d\d:\d\d) UTC/.exec(body)?.[1];
  if (marker.state === "live" && expires) {
    // Written to the minute: the preview ended within the minute after it.
    const at = Date.parse(`${expires.replace(" ", "T")}:00Z`) + 60_000;
    if (at <= now.getTime()) return "expired";
  }
  return now.getTime() - updatedAt.getTime() > LONGEST_JOB_MS ? "stopped" : undefined;
}

/** The comment as its run would have ended it: the marker says the final state, a note says why. */
export function endedBody(body: string, marker: Marker, state: "expired" | "stopped", now: Date): string {
  const rest = body.trimStart().slice(body.trimStart().indexOf("\n") + 1);
  const why =
    state === "expired"
      ? "its expiry has passed"
      : "its run ended without saying so (cancelled, killed or timed out)";
  const note = `> **${state}** — this preview is over: ${why}. Its link no longer works. _(Marked by the scheduled ml-preview sweep at ${utcTime(now)}.)_`;
  return `${formatMarker({ ...marker, state })}\n${note}\n\n${rest}`;
}

/**
 * The scheduled sweep: on every open PR, the preview comments written by this token's identity that still
 * say building/starting/live for a run that is over are edited to `expired` or `stopped` (endedState).
 * A stranger's pasted marker is never touched: only our identity's comments count (as for StickyComment).
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
  const repaired: StaleComment[] = [];
  for (const pull of pulls) {
    const comments = await octokit.paginate(octokit.rest.issues.listComments, {
      ...repo,
      issue_number: pull.number,
      per_page: 100,
    });
    for (const c of comments) {
      if (c.user?.login?.toLowerCase() !== login) continue;
      const marker = parseMarker(c.body ?? "");
      const state = marker && endedState(c.body!, marker, new Date(c.updated_at), now);
      if (!marker || !state) continue;
      await octokit.rest.issues.updateComment({
        ...repo,
        comment_id: c.id,
        body: endedBody(c.body!, marker, state, now),
      });
      log.info(
        `PR #${pull.number}: the "${marker.name}" preview comment said ${marker.state}; now ${state}.`,
      );
      repaired.push({ pr: pull.number, id: c.id, name: marker.name, was: marker.state, now: state });
    }
  }
  return repaired;
}

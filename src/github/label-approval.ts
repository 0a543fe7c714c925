import { explainGitHubError } from "./errors.js";
import { inlineCode } from "./format.js";
import type { Octokit } from "./octokit.js";
import { commenterRole } from "./pr-command.js";
import type { RunContext } from "./pull-request.js";

/**
 * Whether the fork label is a maintainer's approval. Anyone with triage (and any App or bot allowed to label)
 * can add a label, but only people who may push approve building a fork's code with the repository's
 * secrets. GitHub's record of who added it is the issue's events (the timeline's `labeled` entries): the
 * newest one for the label counts. undefined = approved; else why not, for the refusal.
 */
export async function labelApprovalProblem(
  octokit: Octokit,
  run: RunContext,
  issue: number,
  label: string,
): Promise<string | undefined> {
  const adder = await labelAddedBy(octokit, run, issue, label);
  if (!adder)
    return `GitHub's timeline of pull request #${issue} does not say who added the label ${inlineCode(label)}.`;
  const { role, may } = await commenterRole(octokit, run, adder);
  if (may) return undefined;
  return (
    `the label ${inlineCode(label)} was added by @${adder}, whose role is ${inlineCode(role)}; only people with write, ` +
    "maintain or admin access approve a fork's code."
  );
}

/** The login that added `label` last, from the issue's events (oldest first, every page). */
async function labelAddedBy(
  octokit: Octokit,
  run: RunContext,
  issue: number,
  label: string,
): Promise<string | undefined> {
  try {
    const events = await octokit.paginate(octokit.rest.issues.listEvents, {
      owner: run.owner,
      repo: run.repo,
      issue_number: issue,
      per_page: 100,
    });
    const wanted = label.toLowerCase();
    const added = events.filter(
      (e) =>
        e.event === "labeled" && (e as { label?: { name?: string } }).label?.name?.toLowerCase() === wanted,
    );
    return added[added.length - 1]?.actor?.login ?? undefined;
  } catch (err) {
    throw explainGitHubError(err, `read who labelled pull request #${issue}`);
  }
}

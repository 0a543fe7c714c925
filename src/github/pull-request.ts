import { readFileSync } from "node:fs";
import { PreviewError } from "../errors.js";
import { explainGitHubError } from "./errors.js";
import { inlineCode } from "./format.js";
import { labelApprovalProblem } from "./label-approval.js";
import type { Octokit } from "./octokit.js";

/** Which PR a run previews: a PR, a reason to skip quietly (exit 0), a refusal (fail), or none (summary only). */
export interface PreviewTarget {
  pr?: PullRequestInfo;
  skip?: { reason: string; hint: string };
  refusal?: string;
}

export interface TargetConfig {
  prNumber?: number;
  allowForkLabel?: string;
  hasNgrokToken: boolean;
  tunnel: "ngrok" | "none";
}

/** The fields of a pull request object that we read, from an event payload or the REST API alike. */
interface PullPayload {
  number: number;
  state: string;
  head: { sha: string; ref: string; repo?: { full_name?: string } | null };
  base: { repo: { full_name: string } };
  labels?: Array<{ name?: string } | string>;
}

export function toPullRequestInfo(pull: PullPayload): PullRequestInfo {
  return {
    number: pull.number,
    headSha: pull.head.sha,
    headRef: pull.head.ref,
    // A deleted fork leaves head.repo null: still someone else's code.
    isFork: pull.head.repo?.full_name !== pull.base.repo.full_name,
    labels: (pull.labels ?? []).map((label) => (typeof label === "string" ? label : (label.name ?? ""))),
    state: pull.state === "open" ? "open" : "closed",
  };
}

interface PullEvent {
  pull: PullPayload;
  /** What started the run: "opened", "synchronize" (new commits), "labeled", … */
  action?: string;
  /** The label just added, on "labeled". */
  label?: string;
}

function readPullEvent(env: NodeJS.ProcessEnv): PullEvent {
  const path = env.GITHUB_EVENT_PATH;
  try {
    if (!path) throw new Error("GITHUB_EVENT_PATH is not set");
    const payload = JSON.parse(readFileSync(path, "utf8")) as {
      pull_request?: PullPayload;
      action?: string;
      label?: { name?: string };
    };
    if (!payload.pull_request) throw new Error("the payload has no pull_request");
    return { pull: payload.pull_request, action: payload.action, label: payload.label?.name };
  } catch (err) {
    throw new PreviewError(
      "github",
      `Could not read the pull request from the event payload: ${(err as Error).message}.`,
      {
        cause: err,
      },
    );
  }
}

export async function fetchPull(
  octokit: Octokit,
  run: RunContext,
  prNumber: number,
  signal?: AbortSignal,
): Promise<PullRequestInfo> {
  try {
    const { data } = await octokit.rest.pulls.get({
      owner: run.owner,
      repo: run.repo,
      pull_number: prNumber,
      request: { signal },
    });
    return toPullRequestInfo(data as PullPayload);
  } catch (err) {
    throw explainGitHubError(err, `read pull request #${prNumber}`);
  }
}

// Label names and other user text in these messages (notices, the summary) are inline code: Markdown in
// a label stays text.
const FORK_HINT =
  "A `pull_request` run from a fork gets no secrets (so no ngrok token) and a read-only token, by GitHub's design. " +
  "The safe pattern: run the preview from a `pull_request_target` workflow with `allow-fork-label` set, and let a " +
  "maintainer add that label after reviewing the fork's code (a run started by new commits removes it again); or run the " +
  "workflow by hand (`workflow_dispatch`) with `pr-number`.";

/** Decides which PR this run previews, and whether a fork's code may be built at all. */
export async function resolveTarget(
  octokit: Octokit,
  run: RunContext,
  env: NodeJS.ProcessEnv,
  cfg: TargetConfig,
): Promise<PreviewTarget> {
  if (run.eventName === "pull_request" || run.eventName === "pull_request_target") {
    const event = readPullEvent(env);
    const pr = toPullRequestInfo(event.pull);
    if (!pr.isFork) return { pr };
    if (run.eventName === "pull_request") {
      if (cfg.tunnel === "ngrok" && !cfg.hasNgrokToken) {
        return {
          pr,
          skip: {
            reason: `Pull request #${pr.number} comes from a fork, and fork runs get no ngrok token.`,
            hint: FORK_HINT,
          },
        };
      }
      return { pr };
    }
    // pull_request_target runs with the base repository's secrets: building a fork's code needs a maintainer's
    // opt-in, and it approves the code the maintainer read. So only the run that adding the label started
    // builds; a run for changed code (new commits, a reopen) finds the label stale, removes it and refuses.
    const label = cfg.allowForkLabel;
    // GitHub's label names are case-insensitive.
    const isOurs = (name: string | undefined) =>
      name !== undefined && name.toLowerCase() === label?.toLowerCase();
    if (label && event.action === "labeled" && isOurs(event.label)) {
      const problem = await labelApprovalProblem(octokit, run, pr.number, label);
      if (!problem) return { pr };
      const removal = await removeLabel(octokit, run, pr.number, event.label ?? label);
      return {
        pr,
        refusal:
          `Pull request #${pr.number} comes from a fork and ${problem} Nothing was built` +
          (removal === "removed" ? "; ml-preview removed the label." : "."),
      };
    }
    const carried = label ? pr.labels.find((l) => isOurs(l)) : undefined;
    if (label && carried && !CODE_MAY_HAVE_CHANGED.has(event.action ?? "")) {
      // Another label, an edit, …: nothing to build, and the approval still stands for the code it approved.
      return {
        pr,
        skip: {
          reason: `This run was started by ${inlineCode(describeTrigger(event))}, not by adding the label ${inlineCode(label)}: nothing to preview.`,
          hint: `A fork's preview is built by the run that adding ${inlineCode(label)} starts. Limit the workflow to \`types: [labeled, synchronize]\` and skip other labels with \`if: github.event.action != 'labeled' || github.event.label.name == '${label}'\`.`,
        },
      };
    }
    if (label && carried) {
      const removal = await removeLabel(octokit, run, pr.number, carried);
      return {
        pr,
        refusal:
          `Pull request #${pr.number} comes from a fork and carries the label ${inlineCode(carried)}, but this run was started by ` +
          `${inlineCode(describeTrigger(event))}: the code may have changed since a maintainer reviewed it and added the label. ` +
          (removal === "removed"
            ? `ml-preview removed the label; a maintainer adds ${inlineCode(label)} again after reviewing the new commits.`
            : removal === "gone"
              ? `The label is gone already; a maintainer adds ${inlineCode(label)} again after reviewing the new commits.`
              : `ml-preview could not remove the label (${removal.error}): a maintainer removes ${inlineCode(carried)} and adds it again after reviewing the new commits.`),
      };
    }
    return {
      pr,
      refusal: label
        ? `Pull request #${pr.number} comes from a fork and does not carry the label ${inlineCode(label)}. ` +
          "This pull_request_target run has the repository's secrets, so the fork's code is not built until a " +
          `maintainer has reviewed it and added the label ${inlineCode(label)}.`
        : `Pull request #${pr.number} comes from a fork. This pull_request_target run has the repository's secrets, ` +
          "so the fork's code is not built without an opt-in: set the `allow-fork-label` input (e.g. `preview-fork`) " +
          "and have a maintainer add that label after reviewing the code.",
    };
  }
  // workflow_dispatch (and any other event) previews a PR only when asked to by number.
  if (cfg.prNumber !== undefined) return { pr: await fetchPull(octokit, run, cfg.prNumber) };
  return {};
}

/** Runs for these events may build different code than the approval saw. */
const CODE_MAY_HAVE_CHANGED = new Set(["synchronize", "opened", "reopened", ""]);

function describeTrigger(event: PullEvent): string {
  if (event.action === "labeled" && event.label) return `labeled ${event.label}`;
  return event.action ?? "an event without an action";
}

async function removeLabel(
  octokit: Octokit,
  run: RunContext,
  issue: number,
  name: string,
): Promise<"removed" | "gone" | { error: string }> {
  try {
    await octokit.rest.issues.removeLabel({ owner: run.owner, repo: run.repo, issue_number: issue, name });
    return "removed";
  } catch (err) {
    if ((err as { status?: number }).status === 404) return "gone";
    return { error: explainGitHubError(err, `remove the label ${inlineCode(name)}`).message };
  }
}

/** For stop-on-close: is the PR still open, and which commit is its head now. */
export async function pullRequestState(
  octokit: Octokit,
  run: RunContext,
  prNumber: number,
  signal?: AbortSignal,
): Promise<{ open: boolean; headSha: string }> {
  const pr = await fetchPull(octokit, run, prNumber, signal);
  return { open: pr.state === "open", headSha: pr.headSha };
}

/** The run's identity from the runner's environment (runner-protocol.md). */
export function readRunContext(env: NodeJS.ProcessEnv): RunContext {
  const repository = env.GITHUB_REPOSITORY ?? "";
  const [owner, repo, ...rest] = repository.split("/");
  if (!owner || !repo || rest.length > 0) {
    throw new PreviewError(
      "github",
      `GITHUB_REPOSITORY is ${repository ? `"${repository}"` : "not set"}; expected "owner/repo". ` +
        "Run the Action inside a GitHub Actions workflow, or use the ml-preview CLI outside one.",
    );
  }
  const runNumber = env.GITHUB_RUN_ID ?? "0";
  const attempt = env.GITHUB_RUN_ATTEMPT ?? "1";
  const server = (env.GITHUB_SERVER_URL ?? "https://github.com").replace(/\/+$/, "");
  const attemptPath = attempt === "1" ? "" : `/attempts/${attempt}`;
  return {
    owner,
    repo,
    runId: `${runNumber}.${attempt}`,
    runUrl: `${server}/${owner}/${repo}/actions/runs/${runNumber}${attemptPath}`,
    sha: env.GITHUB_SHA ?? "",
    eventName: env.GITHUB_EVENT_NAME ?? "",
  };
}

/** Facts about the GitHub run that every reporter needs. */
export interface RunContext {
  readonly owner: string;
  readonly repo: string;
  /** `RUN_ID.RUN_ATTEMPT`, as written into the comment marker. */
  readonly runId: string;
  readonly runUrl: string;
  /** The commit reports name: the PR's head commit once the PR is known, else GITHUB_SHA. */
  readonly sha: string;
  readonly eventName: string;
}

/** The pull request a preview reports to. */
export interface PullRequestInfo {
  readonly number: number;
  readonly headSha: string;
  readonly headRef: string;
  readonly isFork: boolean;
  readonly labels: readonly string[];
  readonly state: "open" | "closed";
}

import * as core from "@actions/core";
import { ConfigErrors, parseConfig, readActionInputs } from "../config/parse.js";
import type { PreviewConfig, PreviewState } from "../config/types.js";
import { dockerRuntime } from "../docker/runtime.js";
import type { PreviewLabels } from "../docker/types.js";
import { StickyComment } from "../github/comment.js";
import { PreviewDeployment, previewEnvironment } from "../github/deployment.js";
import { createOctokit, type Octokit } from "../github/octokit.js";
import type { PullRequestInfo, RunContext } from "../github/pull-request.js";
import { pullRequestState, readRunContext, resolveTarget } from "../github/pull-request.js";
import { runFate } from "../github/sweep.js";
import { cleanupPatienceMs, holdLimit, pollIntervalMs, tunnelWatchdogMs } from "../lifecycle/poll.js";
import { CLEANUP_PATIENCE_MS, type PreviewDeps } from "../lifecycle/preview.js";
import type { Reporter } from "../lifecycle/types.js";
import { actionsCacheStore } from "./actions-cache.js";
import { runApprovalProblem } from "./approval.js";
import { isForkPullRequest, readPullComment } from "./context.js";
import { commentReporter, deploymentReporter, logReporter } from "./reporters.js";
import { actionsLogger, maskSecretInputs } from "./toolkit.js";
import { cacheReadOnlyReason } from "./trust.js";

export type ActionSetup =
  | { kind: "invalid"; message: string }
  | { kind: "skip"; reason: string; hint: string; run: RunContext; name: string }
  | { kind: "refuse"; message: string }
  | {
      kind: "preview";
      config: PreviewConfig;
      run: RunContext;
      pr?: PullRequestInfo;
      octokit: Octokit;
      labels: PreviewLabels;
      comment?: StickyComment;
      /** The state the comment last showed for sure. */
      commentShows: () => PreviewState | undefined;
      /** Resolves once the comment shows every state handed to it so far (at most `maxMs`). */
      commentSettled: (maxMs: number) => Promise<void>;
      deployment?: PreviewDeployment;
      reporters: Reporter[];
      deps: (signal: AbortSignal, extra: Reporter[]) => PreviewDeps;
    };

const EMPTY_TOKEN =
  "github-token is empty. It defaults to the job's own token (`${{ github.token }}`); an empty value usually means " +
  "it was set to a secret that does not exist here (pull requests from forks get no secrets). Remove the " +
  "github-token input, or pass a token with `pull-requests: write` (and `deployments: write` for `deployment`).";

/**
 * How long a final state is retried while GitHub fails, in each of main (or the holder) and the post step.
 * Longer would hold the job for a comment; past it, the next run on the PR (or the scheduled sweep) repairs it.
 */
export const FINAL_WRITE_BUDGET_MS = 10 * 60_000;

/** Inputs → validated config → which PR → reporters: everything the lifecycle needs, before anything starts. */
export async function setupAction(
  env: NodeJS.ProcessEnv = process.env,
  /** `buildsNothing`: the post step, which only marks and cleans up (no approval to check again). */
  restored: { commentId?: number; deploymentId?: number; buildsNothing?: boolean } = {},
  /**
   * `stop`: aborted when the step must end now (the runner's SIGTERM), final writes stop retrying.
   * `untilMs`: the step's own deadline for them (the post step's), else FINAL_WRITE_BUDGET_MS from each.
   */
  final: { stop?: AbortSignal; untilMs?: number } = {},
): Promise<ActionSetup> {
  const config = readConfig(env);
  if ("kind" in config) return config;
  // Said once, here, instead of every GitHub request failing with 401 "Bad credentials" later.
  if (config.github.token === "") return { kind: "invalid", message: EMPTY_TOKEN };
  const log = actionsLogger;
  const octokit = createOctokit(config.github.token, { log });
  const target = await approvedTarget(config, env, octokit, !restored.buildsNothing);
  if (target.kind !== "preview") return target;
  const { run } = target;

  const pr = target.pr;
  const labels: PreviewLabels = {
    "ml-preview.repo": `${run.owner}/${run.repo}`,
    "ml-preview.pr": pr ? String(pr.number) : "none",
    "ml-preview.run": run.runId,
    "ml-preview.name": config.name,
  };
  const comment =
    pr && config.github.comment
      ? new StickyComment(octokit, run, pr.number, config.name, {
          qrCode: config.github.qrCode,
          secrets: config.secrets,
          log,
          commentId: restored.commentId,
        })
      : undefined;
  const reporters: Reporter[] = [logReporter(log)];
  const finalBudget = () => ({
    untilMs: final.untilMs ?? Date.now() + FINAL_WRITE_BUDGET_MS,
    stop: final.stop,
  });
  const commentWriter = comment ? commentReporter(comment, log, finalBudget) : undefined;
  if (commentWriter) reporters.push(commentWriter);
  const deployment = config.github.deployment
    ? new PreviewDeployment(octokit, run, {
        environment: previewEnvironment(pr?.number, config.name),
        ref: pr?.headSha ?? run.sha,
        log,
        deploymentId: restored.deploymentId,
      })
    : undefined;
  if (deployment) reporters.push(deploymentReporter(deployment));
  const deps = (signal: AbortSignal, extra: Reporter[]): PreviewDeps => ({
    ...previewDeps({ config, env, labels, run, pr, octokit, comment }),
    reporters: [...reporters, ...extra],
    signal,
  });
  core.debug(
    `ml-preview: ${config.source.kind} preview "${config.name}" for ${pr ? `PR #${pr.number}` : "no PR"}`,
  );
  const commentShows = () => commentWriter?.written();
  const commentSettled = async (maxMs: number) => commentWriter?.settled(maxMs);
  return {
    kind: "preview",
    config,
    run,
    pr,
    octokit,
    labels,
    comment,
    commentShows,
    commentSettled,
    deployment,
    reporters,
    deps,
  };
}

/**
 * Which PR this run previews and whether its code may be built here: refused (a fork without approval, a
 * commit other than the one approved), skipped quietly, or the run's context naming the commit it previews.
 */
async function approvedTarget(
  config: PreviewConfig,
  env: NodeJS.ProcessEnv,
  octokit: Octokit,
  checkApproval: boolean,
): Promise<
  | Extract<ActionSetup, { kind: "refuse" | "skip" }>
  | { kind: "preview"; run: RunContext; pr?: PullRequestInfo }
> {
  const fromEnv = readRunContext(env);
  const target = await resolveTarget(octokit, fromEnv, env, {
    // A PR command's run (issue_comment) previews the pull request it was commented on.
    prNumber: config.github.prNumber ?? readPullComment(env)?.prNumber,
    allowForkLabel: config.github.allowForkLabel,
    hasNgrokToken: config.tunnel.provider === "ngrok" && config.tunnel.authtoken !== "",
    tunnel: config.tunnel.provider,
  });
  if (target.refusal) return { kind: "refuse", message: target.refusal };
  // Every report names the commit the preview is of: the PR's head, never GITHUB_SHA (the merge commit of a
  // pull_request run), so building, live, failed and superseded all show the same commit.
  const run: RunContext = target.pr ? { ...fromEnv, sha: target.pr.headSha } : fromEnv;
  if (target.skip) return { kind: "skip", ...target.skip, run, name: config.name };
  const unapproved =
    target.pr && checkApproval && (await runApprovalProblem(fromEnv.eventName, target.pr, config));
  if (unapproved) return { kind: "refuse", message: `Nothing was built: ${unapproved}` };
  return { kind: "preview", run, pr: target.pr };
}

/** The inputs, masked before anything else runs, as one config; or every bad input, each named. */
function readConfig(env: NodeJS.ProcessEnv): PreviewConfig | { kind: "invalid"; message: string } {
  const inputs = readActionInputs();
  maskSecretInputs(inputs);
  try {
    return parseConfig(inputs, {
      workspace: env.GITHUB_WORKSPACE || process.cwd(),
      forkPullRequest: isForkPullRequest(env),
    });
  } catch (err) {
    if (err instanceof ConfigErrors) return { kind: "invalid", message: err.message };
    throw err;
  }
}

/** What the lifecycle needs from this job besides its reporters and stop signal. */
function previewDeps(job: {
  config: PreviewConfig;
  env: NodeJS.ProcessEnv;
  labels: PreviewLabels;
  run: RunContext;
  pr: PullRequestInfo | undefined;
  octokit: Octokit;
  comment: StickyComment | undefined;
}): Omit<PreviewDeps, "reporters" | "signal"> {
  const { config, env, labels, run, pr, octokit, comment } = job;
  const log = actionsLogger;
  return {
    runtime:
      config.source.kind === "share"
        ? undefined
        : dockerRuntime(config, {
            log,
            labels,
            // Not `gone` (404): removing a running container on a run id we cannot see is worse than leaving it.
            runOver: async (other) => (await runFate(octokit, run, other)).fate === "over",
            ...actionsCacheStore(config, env, log),
            // The holder (wait: false) runs this same setup from the same event: it decides the same.
            cacheReadOnly: cacheReadOnlyReason(run.eventName, pr?.number),
          }),
    log,
    metadata: { repo: `${run.owner}/${run.repo}`, pr: pr?.number, run: run.runId, name: config.name },
    commit: pr?.headSha ?? run.sha,
    pollIntervalMs: pollIntervalMs(env),
    watchdogMs: tunnelWatchdogMs(env),
    cleanupPatienceMs: cleanupPatienceMs(env, CLEANUP_PATIENCE_MS),
    prOpen: pr ? async (signal) => (await pullRequestState(octokit, run, pr.number, signal)).open : undefined,
    superseded: comment ? (signal) => comment.isSuperseded(signal) : undefined,
    request: comment ? () => comment.takeRequest() : undefined,
    holdLimit: holdLimit(env),
  };
}

/** SIGINT/SIGTERM (the runner's cancel) abort the lifecycle, which then cleans up. */
export function stopOnSignals(controller: AbortController): void {
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.on(sig, () => controller.abort(`the workflow run was cancelled (${sig})`));
  }
}

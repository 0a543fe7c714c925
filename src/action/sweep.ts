import * as core from "@actions/core";
import { explainGitHubError } from "../github/errors.js";
import { createOctokit } from "../github/octokit.js";
import { readRunContext } from "../github/pull-request.js";
import { sweepStaleComments } from "../github/sweep.js";
import { actionsLogger } from "./toolkit.js";

/**
 * The optional scheduled sweep (sweep/action.yml): preview comments of runs that ended without saying so
 * (killed outright, no post step, no later run on the PR) are marked `expired` or `stopped`.
 */
export async function actionSweep(): Promise<void> {
  const token = core.getInput("github-token");
  if (!token) {
    core.setFailed(
      "ml-preview sweep: the `github-token` input is empty. Leave it out (the default `${{ github.token }}` works) and give the job `pull-requests: write`.",
    );
    return;
  }
  core.setSecret(token);
  try {
    const run = readRunContext(process.env);
    const octokit = createOctokit(token, { log: actionsLogger });
    const repaired = await sweepStaleComments(octokit, run, actionsLogger);
    core.setOutput("repaired", String(repaired.length));
    core.info(`ml-preview sweep: ${repaired.length} preview comment(s) of ended runs marked as ended.`);
  } catch (err) {
    core.setFailed(`ml-preview sweep: ${explainGitHubError(err, "sweep the preview comments").message}`);
  }
}

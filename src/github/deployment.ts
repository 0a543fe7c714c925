import type { PreviewState } from "../config/types.js";
import type { Logger } from "../log.js";
import { explainGitHubError } from "./errors.js";
import type { Octokit } from "./octokit.js";
import type { RunContext } from "./pull-request.js";

export interface PreviewDeploymentOptions {
  /** One environment per PR and preview name (see `previewEnvironment`). */
  readonly environment: string;
  /** The commit or branch deployed: the PR's head sha. */
  readonly ref: string;
  readonly log: Logger;
  /** A deployment this preview already created (the post step, from saved state): start() is then skipped. */
  readonly deploymentId?: number;
}

/**
 * `preview/pr-12/app`: GitHub marks older deployments of the same environment inactive when a new one
 * succeeds, so each PR (and each named preview in it) gets its own environment.
 */
export function previewEnvironment(prNumber: number | undefined, name: string): string {
  return `preview/${prNumber === undefined ? "manual" : `pr-${prNumber}`}/${name}`;
}

type DeploymentStatusState = "in_progress" | "success" | "inactive" | "failure";

/** A GitHub Deployment mirroring the preview: in_progress → success with the URL → inactive when it ends. */
export class PreviewDeployment {
  /** The deployment, once created (or restored from the main step's state for the post step). */
  id: number | undefined;

  constructor(
    private readonly octokit: Octokit,
    private readonly run: RunContext,
    private readonly opts: PreviewDeploymentOptions,
  ) {
    this.id = opts.deploymentId;
  }

  async start(): Promise<void> {
    if (this.id !== undefined) return;
    try {
      const { data } = await this.octokit.rest.repos.createDeployment({
        owner: this.run.owner,
        repo: this.run.repo,
        ref: this.opts.ref,
        environment: this.opts.environment,
        description: "ml-preview",
        transient_environment: true,
        production_environment: false,
        // The run creating the deployment is itself a pending check on this commit: without [] GitHub answers 409.
        required_contexts: [],
        // Otherwise GitHub may merge the base branch into the PR branch first (202 "Auto-merged").
        auto_merge: false,
      });
      if (!("id" in data)) {
        this.opts.log.warning(`GitHub created no deployment: ${data.message ?? "no reason given"}.`);
        return;
      }
      this.id = data.id;
    } catch (err) {
      throw explainGitHubError(err, `create a deployment in environment "${this.opts.environment}"`);
    }
    await this.#status("in_progress", "Building and starting the preview");
  }

  async live(url: string): Promise<void> {
    await this.#status("success", "Preview is live", url);
  }

  async end(state: PreviewState): Promise<void> {
    await this.#status(state === "failed" ? "failure" : "inactive", `Preview ${state}`);
  }

  async #status(state: DeploymentStatusState, description: string, environmentUrl?: string): Promise<void> {
    if (this.id === undefined) return;
    try {
      await this.octokit.rest.repos.createDeploymentStatus({
        owner: this.run.owner,
        repo: this.run.repo,
        deployment_id: this.id,
        state,
        description,
        log_url: this.run.runUrl,
        environment: this.opts.environment,
        ...(environmentUrl ? { environment_url: environmentUrl } : {}),
      });
    } catch (err) {
      throw explainGitHubError(err, `set the deployment status to ${state}`);
    }
  }
}

/** The GitHub side of a preview: which PR, the sticky comment, deployments, the job summary. */

export { scrubSecrets } from "../scrub.js";
export { type FinalWriteBudget, StickyComment, type StickyCommentOptions } from "./comment.js";
export { PreviewDeployment, type PreviewDeploymentOptions, previewEnvironment } from "./deployment.js";
export { explainGitHubError, permissionFor, retryWhileTransient } from "./errors.js";
export { isNewerRun, type Marker, markerPrefix, parseMarker } from "./marker.js";
export { createOctokit, type Octokit, type OctokitOptions } from "./octokit.js";
export { type PreviewTarget, pullRequestState, resolveTarget, type TargetConfig } from "./pull-request.js";
export { type RenderContext, render } from "./render.js";
export { readRunContext } from "./run-context.js";
export { renderSummary, type SummaryContext } from "./summary.js";
export { repairStaleComments, runFate, type StaleComment, sweepStaleComments } from "./sweep.js";
export type { PullRequestInfo, RunContext, StateDetails, StateReport } from "./types.js";

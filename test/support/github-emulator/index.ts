/**
 * A loopback GitHub REST emulator for tests, driven by the real `octokit` package over HTTP.
 * Start it, use `url` as Octokit's baseUrl (or GITHUB_API_URL), seed PRs and comments, inject faults,
 * then assert on its state and on `requests`.
 *
 * It is as strict as GitHub: every request is validated against GitHub's OpenAPI description (close()
 * fails the test that made a request GitHub would refuse), comments have authors and only their author's
 * token may edit or delete them, tokens have identities and permissions, and the rate limits, outages,
 * hanging requests and latency of the real API can be injected.
 */

export { primaryRateLimit, secondaryRateLimit } from "./faults.js";
export { type EmulatorOctokitOptions, emulatorOctokit, fastThrottle } from "./octokit.js";
export { responseErrors } from "./openapi.js";
export { startGitHubEmulator } from "./server.js";
export type {
  ContextState,
  EmulatedComment,
  EmulatedDeployment,
  EmulatedDeploymentStatus,
  EmulatedPull,
  EmulatedReaction,
  EmulatedWorkflowRun,
  Fault,
  GitHubEmulator,
  GitHubEmulatorOptions,
  HeldRequest,
  PermissionLevel,
  PermissionName,
  RecordedRequest,
  RepoRole,
  RequestMatch,
  TokenIdentity,
} from "./types.js";

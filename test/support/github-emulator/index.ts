/**
 * A loopback GitHub REST emulator for tests, driven by the real `octokit` package over HTTP.
 * Start it, use `url` as Octokit's baseUrl (or GITHUB_API_URL), seed PRs and comments, inject faults,
 * then assert on its state and on `requests`.
 */

export { primaryRateLimit, secondaryRateLimit } from "./faults.js";
export { type EmulatorOctokitOptions, emulatorOctokit, fastThrottle } from "./octokit.js";
export { startGitHubEmulator } from "./server.js";
export type {
  ContextState,
  EmulatedComment,
  EmulatedDeployment,
  EmulatedDeploymentStatus,
  EmulatedPull,
  Fault,
  GitHubEmulator,
  GitHubEmulatorOptions,
  HeldRequest,
  PermissionLevel,
  PermissionName,
  RecordedRequest,
  RequestMatch,
  TokenIdentity,
} from "./types.js";

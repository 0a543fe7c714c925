import { PreviewError } from "../errors.js";
import type { RunContext } from "./types.js";

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

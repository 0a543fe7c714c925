import { conflict, type Reply, unprocessable } from "./replies.js";
import { fakeSha, type RepoStore } from "./store.js";

export const deploymentDocs = "https://docs.github.com/rest/deployments/deployments#create-a-deployment";

/**
 * Checks GitHub runs before a deployment exists: the ref, auto-merge and the commit status contexts.
 * Returns the commit to deploy, or GitHub's answer when there will be no deployment.
 */
export function checkDeployable(
  store: RepoStore,
  ref: string,
  autoMerge: boolean,
  required?: string[],
): Reply | string {
  const sha = store.resolveRef(ref);
  if (!sha) return unprocessable(deploymentDocs, `No ref found for: ${ref}`);
  const branch = ref.replace(/^(refs\/)?heads\//, "");
  const pull = [...store.pulls.values()].find((p) => p.headRef === branch && !p.fork);
  if (autoMerge && pull?.behindBase) {
    // GitHub pushes a merge commit onto the branch and creates no deployment.
    pull.behindBase = false;
    pull.headSha = fakeSha(`auto-merge:${pull.headSha}`);
    return {
      status: 202,
      body: { message: `Auto-merged ${store.defaultBranch} into ${branch} on deployment.` },
    };
  }
  const contexts = required ?? [...store.contexts.keys()];
  const failing = contexts
    .map((context) => ({ context, state: store.contexts.get(context) ?? "pending" }))
    .filter((c) => c.state !== "success");
  if (failing.length > 0) {
    const errors = [
      { contexts: failing, resource: "Deployment", field: "required_contexts", code: "invalid" },
    ];
    return conflict(deploymentDocs, `Conflict: Commit status checks failed for ${ref}.`, errors);
  }
  return sha;
}

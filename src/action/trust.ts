/**
 * Why this run may only read the caches other runs start from (cache-dirs' Actions cache entries, `cache: gha`
 * layers, a `registry:` cache image), or undefined when it may write them too.
 *
 * GitHub scopes the Actions cache by the ref a run is on: a run writes to its own ref's scope, and reads that,
 * its pull request's base branch and the default branch. A `pull_request` run is on the PR's merge ref
 * (refs/pull/N/merge), which no other PR and no branch reads: it may write. Every other run that builds a PR's
 * code is on a branch — pull_request_target on the base branch, issue_comment (a `/preview` command) on the
 * default branch, workflow_dispatch and any other event with `pr-number` on the branch it was started on — so
 * what it wrote would be read by that branch's own previews and, on the default branch, by every PR's: the
 * PR's code (a fork's, on a maintainer's word) would plant what trusted previews start from. A registry
 * cache has no scopes at all. Runs without a PR (push, schedule, dispatch) build their branch's own code.
 */
export function cacheReadOnlyReason(eventName: string, pr: number | undefined): string | undefined {
  if (eventName === "pull_request") return undefined;
  const code = pr === undefined ? "a pull request's code" : `pull request #${pr}'s code`;
  if (eventName === "pull_request_target")
    return `this pull_request_target run builds ${code} on the base branch, whose cache the base branch's runs and its pull requests read`;
  if (pr === undefined) return undefined;
  if (eventName === "issue_comment")
    return `this issue_comment run (a /preview command) builds ${code} on the default branch, whose cache every run and pull request reads`;
  return `this ${eventName || "workflow"} run builds ${code} on the branch it was started on (usually the default branch), whose cache that branch's runs and its pull requests read`;
}

import { execFile } from "node:child_process";
import type { PreviewConfig } from "../config/types.js";
import { inlineCode } from "../github/format.js";

/**
 * The reviewed commit is the built commit. A maintainer approves a fork's code by naming the commit they
 * read (`/preview SHA`, the `pr-sha` input, or the label's event, which carries the head at that moment);
 * the fork's author can push at any time, also between that word and the job's checkout, and even push the
 * reviewed commit back before the run reads the PR. So the run compares three commits before it builds:
 * the one named, the PR's head, and the one checked out where it builds (the only one that decides what runs).
 */
export interface ApprovalFacts {
  /** The commit the approval names: full or abbreviated (7+ hex), lower case. */
  readonly named?: string;
  /** The pull request's head commit as GitHub reports it now (or in the label's event). */
  readonly head: string;
  /** The commit checked out in the build context; undefined when there is no git checkout there. */
  readonly checkedOut?: string;
  /** Does the code come from a fork (someone who cannot push to this repository)? */
  readonly fork: boolean;
  /** Whether the preview builds the workspace (false for `image`: nothing of the PR is built). */
  readonly builds: boolean;
  /** How to name the commit, in the words of the door the approval came through. */
  readonly howToName: string;
}

/** Why nothing may be built, or undefined when the commit that is built is the commit that was approved. */
export function approvalProblem(f: ApprovalFacts): string | undefined {
  const short = (sha: string) => inlineCode(sha.slice(0, 12));
  const named = f.named;
  // A same-repository PR's author can push to this repository anyway: a bare request builds its head.
  if (!f.fork && !named) return undefined;
  if (!named)
    return (
      `this pull request comes from a fork, so its code is built only for the commit a maintainer reviewed: ` +
      `${f.howToName.replace("SHA", f.head.slice(0, 12))} once you have read the code at that commit (its head now).`
    );
  if (!f.head.startsWith(named))
    return (
      `the commit you named, ${short(named)}, is not the pull request's head (${short(f.head)}): new commits were ` +
      `pushed. Review ${short(f.head)} and name it instead.`
    );
  if (!f.builds) return undefined;
  if (f.checkedOut === undefined)
    return f.fork
      ? "no git checkout could be read at the build context (`git rev-parse HEAD` found no commit there), so the commit " +
          "that would be built cannot be compared with the one reviewed. Check the pull request out with " +
          "actions/checkout (`ref: refs/pull/N/head`) before this step."
      : undefined;
  if (f.checkedOut !== f.head)
    return (
      `the workspace holds ${short(f.checkedOut)}, but the pull request's head is ${short(f.head)}: the branch moved ` +
      `between the request and this job's checkout. Ask again for the commit you reviewed.`
    );
  return undefined;
}

/** The commit checked out at `dir` (`git rev-parse`), or undefined when `dir` is not in a git checkout. */
export function checkedOutCommit(dir: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    // git itself, not a reading of .git files: it knows every layout (worktrees, packed refs, submodules). The
    // first repository up from the context is the checkout that holds it; rev-parse runs no hooks.
    execFile(
      "git",
      ["rev-parse", "--verify", "--quiet", "HEAD^{commit}"],
      { cwd: dir, timeout: 10_000, env: { ...process.env, GIT_TERMINAL_PROMPT: "0" } },
      (err, stdout) => {
        const sha = stdout.trim().toLowerCase();
        resolve(!err && /^[0-9a-f]{40,64}$/.test(sha) ? sha : undefined);
      },
    );
  });
}

/**
 * The check for runs that build a pull request's code with this repository's secrets outside a PR command
 * (which is checked with its `/preview SHA`): `workflow_dispatch` with `pr-number` (the `pr-sha` input names
 * the commit) and a fork's `pull_request_target` run on the label (its event names the head the label
 * approved). A `pull_request` run builds its own ref's code, and a fork's gets no secrets.
 */
export async function runApprovalProblem(
  eventName: string,
  pr: { readonly headSha: string; readonly isFork: boolean },
  config: Pick<PreviewConfig, "source" | "github">,
): Promise<string | undefined> {
  if (eventName === "pull_request" || eventName === "issue_comment") return undefined;
  const target = eventName === "pull_request_target";
  if (target && !pr.isFork) return undefined;
  const source = config.source;
  const builds = source.kind === "build";
  return approvalProblem({
    named: target ? pr.headSha : config.github.prSha,
    head: pr.headSha,
    checkedOut: builds ? await checkedOutCommit(source.context) : undefined,
    fork: pr.isFork,
    builds,
    howToName: "set the `pr-sha` input to SHA",
  });
}

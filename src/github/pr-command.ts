import parseDuration from "parse-duration";
import { DURATION_SHAPE } from "../config/check/scalars.js";
import { explainGitHubError } from "./errors.js";
import { inlineCode } from "./format.js";
import type { Octokit } from "./octokit.js";
import type { RunContext } from "./pull-request.js";

/** A reviewer's command, from the first line of a pull request comment. */
export type PreviewCommand =
  /** `sha`: the commit the commenter reviewed (7–40 hex), required on a fork's pull request. */
  | { readonly kind: "start"; readonly name?: string; readonly sha?: string }
  | { readonly kind: "stop"; readonly name?: string }
  | { readonly kind: "extend"; readonly ms: number; readonly name?: string };

export type ParsedCommand = PreviewCommand | { readonly kind: "malformed"; readonly problem: string };

export const COMMAND_USAGE =
  "`/preview [NAME] [SHA]` starts (or restarts) the preview of this pull request's head (SHA: the commit you reviewed, " +
  "required on a fork's pull request), `/preview stop [NAME]` ends it, " +
  "`/preview extend DURATION [NAME]` (e.g. `/preview extend 30m`) keeps it up longer.";

/** undefined: not a command (ignored quietly). Only the first line counts; the rest is free text. */
export function parseCommand(body: string): ParsedCommand | undefined {
  const first = body.trimStart().split(/\r?\n/, 1)[0]!.trim();
  if (!/^\/preview(\s|$)/.test(first)) return undefined;
  const [, verb, ...rest] = first.split(/\s+/);
  const tooMany = (max: number) =>
    rest.length > max
      ? { kind: "malformed" as const, problem: `too many words after \`/preview ${verb}\`` }
      : undefined;
  if (verb === undefined) return { kind: "start" };
  if (verb === "stop") return tooMany(1) ?? { kind: "stop", name: rest[0] };
  if (verb === "extend") {
    const [text, name] = rest;
    if (!text)
      return { kind: "malformed", problem: "`/preview extend` needs a duration, e.g. `/preview extend 30m`" };
    const ms = DURATION_SHAPE.test(text) ? parseDuration(text) : undefined;
    if (!ms || ms <= 0)
      return {
        kind: "malformed",
        problem: `${inlineCode(text)} is not a duration: write it with units, e.g. 30m, 1h or 1h30m`,
      };
    return tooMany(2) ?? { kind: "extend", ms, name };
  }
  return parseStart(verb, rest);
}

/** 7–40 hex digits: a commit as people copy it from GitHub (short or full). */
export const COMMIT_SHA = /^[0-9a-f]{7,40}$/i;

/** `/preview SHA`, `/preview NAME`, `/preview NAME SHA`: a word of 7–40 hex digits is the reviewed commit. */
function parseStart(first: string, rest: string[]): ParsedCommand {
  const words = [first, ...rest];
  const last = words[words.length - 1]!;
  const sha = COMMIT_SHA.test(last) ? last.toLowerCase() : undefined;
  const names = sha ? words.slice(0, -1) : words;
  if (names.length > 1)
    return {
      kind: "malformed",
      problem: `${inlineCode(names[0]!)} is not a command (\`stop\` or \`extend\`); after \`/preview\` come a preview name (one word) and the commit you reviewed`,
    };
  return { kind: "start", ...(names[0] ? { name: names[0] } : {}), ...(sha ? { sha } : {}) };
}

/** Permissions that may push, and so may drive previews (GitHub's role names). */
const MAY_COMMAND = new Set(["admin", "maintain", "write"]);

/** The commenter's role on the repository from GitHub's API; `may` when it allows commands. */
export async function commenterRole(
  octokit: Octokit,
  run: RunContext,
  login: string,
): Promise<{ role: string; may: boolean }> {
  try {
    const { data } = await octokit.rest.repos.getCollaboratorPermissionLevel({
      owner: run.owner,
      repo: run.repo,
      username: login,
    });
    // role_name tells maintain and triage apart; `permission` folds them into write and read.
    const role = data.role_name || data.permission;
    return { role, may: MAY_COMMAND.has(role) || MAY_COMMAND.has(data.permission) };
  } catch (err) {
    // Not a collaborator at all.
    if ((err as { status?: number }).status === 404) return { role: "none", may: false };
    throw explainGitHubError(err, `read the repository permission of @${login}`);
  }
}

export type Reaction = "eyes" | "rocket" | "+1" | "confused";

/** How a command run answers on the pull request: reactions on the command's comment, and replies. */
export class CommandAnswers {
  constructor(
    private readonly octokit: Octokit,
    private readonly run: RunContext,
    private readonly prNumber: number,
    private readonly comment: { readonly id: number; readonly body: string; readonly login: string },
  ) {}

  async react(content: Reaction): Promise<void> {
    try {
      await this.octokit.rest.reactions.createForIssueComment({
        owner: this.run.owner,
        repo: this.run.repo,
        comment_id: this.comment.id,
        content,
      });
    } catch (err) {
      throw explainGitHubError(err, "react to the command's comment");
    }
  }

  /**
   * 😕 and a reply addressed to the command's author that says why, quoting the command (`quote: false` for
   * someone who may not command: the bot never repeats a stranger's text).
   */
  async refuse(why: string, opts: { quote?: boolean } = {}): Promise<void> {
    await this.react("confused");
    const quoted = this.comment.body.trimStart().split(/\r?\n/, 1)[0]!.trim();
    const quote = opts.quote === false ? "" : `> ${quoted}\n\n`;
    try {
      await this.octokit.rest.issues.createComment({
        owner: this.run.owner,
        repo: this.run.repo,
        issue_number: this.prNumber,
        body: `${quote}@${this.comment.login} ${why}`,
      });
    } catch (err) {
      throw explainGitHubError(err, `reply on pull request #${this.prNumber}`);
    }
  }
}

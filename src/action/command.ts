import * as core from "@actions/core";
import { humanDuration, inlineCode } from "../github/format.js";
import {
  COMMAND_USAGE,
  CommandAnswers,
  commenterRole,
  type ParsedCommand,
  type PreviewCommand,
  parseCommand,
} from "../github/pr-command.js";
import type { PullRequestInfo } from "../github/pull-request.js";
import { scrubSecrets } from "../scrub.js";
import { approvalProblem, checkedOutCommit } from "./approval.js";
import { type PullComment, readPullComment } from "./context.js";
import type { ActionSetup } from "./setup.js";
import { info } from "./toolkit.js";

export interface CommandRun {
  readonly event: PullComment;
  readonly command: ParsedCommand;
}

/**
 * The PR command of an issue_comment run; undefined for any other run. A comment that is not a command
 * ends the run quietly (`ignored`).
 */
export function readCommand(env: NodeJS.ProcessEnv): CommandRun | "ignored" | undefined {
  if (env.GITHUB_EVENT_NAME !== "issue_comment") return undefined;
  const event = readPullComment(env);
  const command = event && parseCommand(event.comment.body);
  return event && command ? { event, command } : "ignored";
}

type PreviewSetup = Extract<ActionSetup, { kind: "preview" }>;

/**
 * Answers a reviewer's command. true: this run goes on to preview the PR's head (`/preview`); a live
 * preview of an older run then ends superseded when it sees this run's comment. stop and extend are
 * written into the holding run's own comment, which reads them on its next poll.
 */
export async function answerCommand({ event, command }: CommandRun, setup: PreviewSetup): Promise<boolean> {
  const { comment, prNumber } = event;
  const answers = new CommandAnswers(setup.octokit, setup.run, prNumber, comment);
  const name = command.kind === "malformed" ? setup.config.name : (command.name ?? setup.config.name);
  if (name !== setup.config.name) {
    info(
      `The command is for the preview ${inlineCode(name)}; this step runs ${inlineCode(setup.config.name)}.`,
    );
    return false;
  }
  await answers.react("eyes");
  try {
    return await carryOut(command, event, setup, answers);
  } catch (err) {
    // The reviewer waits on the PR, not in the log: say there that it failed, and why.
    const why = scrubSecrets((err as Error).message, setup.config.secrets);
    await answers.refuse(`the command failed: ${why}`).catch(() => {});
    throw err;
  }
}

/**
 * After 👀: who asked (before any reply that quotes the command: a stranger cannot make the bot post their
 * text), then start (true), or hand stop/extend to the live preview's run.
 */
async function carryOut(
  command: ParsedCommand,
  { comment, prNumber }: PullComment,
  setup: PreviewSetup,
  answers: CommandAnswers,
): Promise<boolean> {
  const { role, may } = await commenterRole(setup.octokit, setup.run, comment.login);
  if (!may) {
    core.info(`@${comment.login} (${role}) may not run preview commands; nothing happens.`);
    await answers.refuse(
      `only people with write access to this repository (write, maintain or admin) can run preview commands; your role is ${inlineCode(role)}.`,
      { quote: false },
    );
    return false;
  }
  if (command.kind === "malformed") {
    await answers.refuse(`${command.problem}. ${COMMAND_USAGE}`);
    return false;
  }
  const pr = setup.pr;
  if (pr?.state !== "open") {
    await answers.refuse(`pull request #${prNumber} is closed: there is nothing to preview.`);
    return false;
  }
  if (command.kind === "start") return start(command, comment.login, { ...setup, pr }, answers);
  return request(command, comment.login, setup, answers);
}

/** `/preview [NAME] [SHA]`: true once the commit to build is the one the commenter named (forks: must name). */
async function start(
  command: Extract<PreviewCommand, { kind: "start" }>,
  login: string,
  setup: PreviewSetup & { pr: PullRequestInfo },
  answers: CommandAnswers,
): Promise<boolean> {
  const { pr, config } = setup;
  const source = config.source;
  const builds = source.kind === "build";
  const problem = approvalProblem({
    named: command.sha,
    head: pr.headSha,
    checkedOut: builds ? await checkedOutCommit(source.context) : undefined,
    fork: pr.isFork,
    builds,
    howToName: `comment ${inlineCode(`/preview ${command.name ? `${command.name} ` : ""}SHA`)}`,
  });
  if (problem) {
    core.warning(`Nothing was built: ${problem}`);
    await answers.refuse(problem);
    return false;
  }
  core.info(
    `@${login} asked for a preview of ${pr.headSha}${pr.isFork ? " (a fork's code, on a maintainer's word for that commit)" : ""}.`,
  );
  await answers.react("rocket");
  return true;
}

/** `/preview stop|extend`: written into the holding run's own comment, which reads it on its next poll. */
async function request(
  command: Extract<PreviewCommand, { kind: "stop" | "extend" }>,
  login: string,
  setup: PreviewSetup,
  answers: CommandAnswers,
): Promise<boolean> {
  const name = command.name ?? setup.config.name;
  if (!setup.comment) {
    await answers.refuse(
      "this workflow runs previews with `comment: false`, so a running preview cannot be reached.",
    );
    return false;
  }
  const ms = command.kind === "extend" ? command.ms : undefined;
  const holder = await setup.comment.requestOfHolder({ kind: command.kind, ms, by: login, at: new Date() });
  if (!holder) {
    await answers.refuse(
      `there is no live preview ${inlineCode(name)} on this pull request; \`/preview\` starts one.`,
    );
    return false;
  }
  if (!holder.request) {
    await answers.refuse(
      `the preview ${inlineCode(name)} is ${holder.state}, not live yet: send the command again once it is live.`,
    );
    return false;
  }
  core.info(
    `Asked run ${holder.run} to ${command.kind === "stop" ? "stop" : `extend by ${humanDuration(ms ?? 0)}`}; it acts on its next poll.`,
  );
  await answers.react("+1");
  return false;
}

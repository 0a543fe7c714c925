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
import { scrubSecrets } from "../scrub.js";
import { type PullComment, readPullComment } from "./context.js";
import type { ActionSetup } from "./setup.js";

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
  if (command.kind === "malformed") {
    await answers.refuse(`${command.problem}. ${COMMAND_USAGE}`);
    return false;
  }
  const name = command.name ?? setup.config.name;
  if (name !== setup.config.name) {
    core.info(
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

/** After 👀: who asked, then start (true), or hand stop/extend to the live preview's run. */
async function carryOut(
  command: PreviewCommand,
  { comment, prNumber }: PullComment,
  setup: PreviewSetup,
  answers: CommandAnswers,
): Promise<boolean> {
  const name = command.name ?? setup.config.name;
  const { role, may } = await commenterRole(setup.octokit, setup.run, comment.login);
  if (!may) {
    core.info(`@${comment.login} (${role}) may not run preview commands; nothing happens.`);
    await answers.refuse(
      `only people with write access to this repository (write, maintain or admin) can run preview commands; your role is ${inlineCode(role)}.`,
    );
    return false;
  }
  if (setup.pr?.state !== "open") {
    await answers.refuse(`pull request #${prNumber} is closed: there is nothing to preview.`);
    return false;
  }
  if (command.kind === "start") {
    core.info(
      `@${comment.login} asked for a preview of ${setup.pr.headSha}${setup.pr.isFork ? " (a fork's code, on a maintainer's word)" : ""}.`,
    );
    await answers.react("rocket");
    return true;
  }
  if (!setup.comment) {
    await answers.refuse(
      "this workflow runs previews with `comment: false`, so a running preview cannot be reached.",
    );
    return false;
  }
  const request = {
    kind: command.kind,
    ms: command.kind === "extend" ? command.ms : undefined,
    by: comment.login,
    at: new Date(),
  };
  const holder = await setup.comment.requestOfHolder(request);
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
    `Asked run ${holder.run} to ${command.kind === "stop" ? "stop" : `extend by ${humanDuration(command.ms)}`}; it acts on its next poll.`,
  );
  await answers.react("+1");
  return false;
}

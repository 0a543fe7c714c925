/** What the runner's toolkit gives a step: its log, the masks for secrets, and the state main leaves for post. */
import { EOL } from "node:os";
import * as core from "@actions/core";
import { collectSecrets, MIN_ENV_SECRET_LENGTH } from "../config/parse.js";
import type { Inputs } from "../config/types.js";
import type { Logger } from "../log.js";
import { plainForRunner } from "../workflow-commands.js";

/**
 * Plain text into the step's log, never a workflow command (see plainForRunner). Every plain line of the Action
 * goes through here; core.warning/error/notice/debug escape their text themselves. One write, so nothing of
 * this process lands inside a block.
 */
export function info(text: string): void {
  const plain = plainForRunner(text, EOL);
  if (plain.wrapped) process.stdout.write(plain.text);
  else core.info(text);
}

/**
 * An error nothing caught ends the step as Node would (exit 1), but said escaped, as one ::error:: line: Node's
 * own report is the raw message and stack on stderr, which the runner reads for commands too, and the message
 * may quote the build. The stack goes to the debug log.
 */
export function failOnUncaught(prefix: string): void {
  process.on("uncaughtException", (err: unknown) => {
    core.setFailed(`${prefix}: ${err instanceof Error ? err.message : String(err)}`);
    if (err instanceof Error && err.stack) core.debug(err.stack);
    process.exit(1);
  });
}

/** The Actions log: groups become collapsible sections; the runner masks values passed to setSecret. */
export const actionsLogger: Logger = {
  info,
  warning: (m) => core.warning(m),
  debug: (m) => core.debug(m),
  group: (title, fn) => core.group(title, fn),
};

/**
 * Mask secrets before anything else runs, even before validation, so no later message can print them.
 * Env lines are split leniently here; validation comes after.
 */
export function maskSecretInputs(inputs: Inputs): void {
  const env: Record<string, string> = {};
  for (const line of (inputs.env ?? "").split(/\r?\n/)) {
    const eq = line.indexOf("=");
    if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1).trim();
  }
  for (const secret of collectSecrets(inputs, env)) {
    core.setSecret(secret);
    // A multi-line secret (a key in build-secrets) may be printed a line at a time.
    for (const line of secret.split(/\r?\n/))
      if (line !== secret && line.length >= MIN_ENV_SECRET_LENGTH) core.setSecret(line);
  }
}

/** What main leaves for the post step (runner: GITHUB_STATE → STATE_<name>). */
export type SavedStateName =
  | "started" // main got past input validation
  | "labels" // JSON of our labels, to sweep orphans
  | "container" // container id
  | "comment" // sticky comment id
  | "deployment" // GitHub deployment id
  | "holder" // pid of the detached holder (wait: false)
  | "events" // the holder's event file
  | "finished" // "true" once main (wait: true) ended the preview and cleaned up itself
  | "outcome" // the final state main reached
  | "comment-shows"; // the state the comment last showed for sure

export const saveState = (name: SavedStateName, value: string) => core.saveState(name, value);
export const readState = (name: SavedStateName) => core.getState(name);

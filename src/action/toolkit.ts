/** What the runner's toolkit gives a step: its log, the masks for secrets, and the state main leaves for post. */
import * as core from "@actions/core";
import { collectSecrets } from "../config/parse.js";
import type { Inputs } from "../config/types.js";
import type { Logger } from "../log.js";

/** The Actions log: groups become collapsible sections; the runner masks values passed to setSecret. */
export const actionsLogger: Logger = {
  info: (m) => core.info(m),
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
  for (const secret of collectSecrets(inputs, env)) core.setSecret(secret);
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

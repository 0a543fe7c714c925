import * as core from "@actions/core";

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

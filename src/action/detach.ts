import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as core from "@actions/core";
import type { PreviewConfig } from "../config/types.js";
import type { RunContext } from "../github/pull-request.js";
import { type EventLine, followUntilLive } from "../lifecycle/events-file.js";
import { setOutputs, writeSummary } from "./reporters.js";
import { saveState } from "./toolkit.js";

/**
 * `wait: false`: the preview is held by a detached process started from the same bundle, so this step can
 * return as soon as the preview is live. The holder must not inherit our stdout/stderr (the runner waits for
 * them to close): it writes to a log file in RUNNER_TEMP, which we echo here until the preview is live.
 */
export async function startDetached(
  run: RunContext,
  config: PreviewConfig,
  env: NodeJS.ProcessEnv,
): Promise<EventLine> {
  const name = config.name;
  const dir = env.RUNNER_TEMP || tmpdir();
  const base = join(dir, `ml-preview-${name}-${process.pid}`);
  const events = `${base}.events`;
  const logFile = `${base}.log`;
  const out = openSync(logFile, "a");
  const childEnv: NodeJS.ProcessEnv = { ...env, ML_PREVIEW_EVENTS_FILE: events };
  // The holder must not write this step's outputs, state or summary after we return.
  for (const k of ["GITHUB_OUTPUT", "GITHUB_STATE", "GITHUB_STEP_SUMMARY"]) delete childEnv[k];
  const child = spawn(process.execPath, [join(__dirname, "holder.js")], {
    detached: true,
    stdio: ["ignore", out, out],
    env: childEnv,
  });
  closeSync(out);
  child.unref();
  saveState("holder", String(child.pid));
  saveState("events", events);
  core.info(`Started the preview holder (pid ${child.pid}); its log: ${logFile}`);

  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let shown = 0;
  const last = await followUntilLive(events, exited, () => {
    shown = echoNewLog(logFile, shown);
  });
  if (!last) {
    throw new Error(
      `The preview holder exited before the preview went live; see its log above (${logFile}).`,
    );
  }
  setOutputs(last, last.details.imageId, last.commentId);
  if (last.commentId !== undefined) saveState("comment", String(last.commentId));
  if (last.deploymentId !== undefined) saveState("deployment", String(last.deploymentId));
  await writeSummary(last, { name, run, secrets: config.secrets });
  return last;
}

function echoNewLog(path: string, from: number): number {
  try {
    const size = statSync(path).size;
    if (size > from) process.stdout.write(readFileSync(path).subarray(from, size));
    return size;
  } catch {
    return from;
  }
}

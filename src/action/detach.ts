import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { EOL } from "node:os";
import { join } from "node:path";
import type { PreviewConfig } from "../config/types.js";
import type { RunContext } from "../github/pull-request.js";
import { bytesFrom, type EventLine, followUntilLive } from "../lifecycle/events-file.js";
import { setOutputs, writeSummary } from "./reporters.js";
import { holderFilesBase, holderLogOf } from "./saved-state.js";
import { info, saveState } from "./toolkit.js";

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
  const events = `${holderFilesBase(env, name)}.events`;
  const logFile = holderLogOf(events);
  // Only this user may read it: the holder scrubs its secrets, but the log is the app's and build's output.
  const out = openSync(logFile, "a", 0o600);
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
  info(`Started the preview holder (pid ${child.pid}); its log: ${logFile}`);

  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const echo = holderLogEcho(logFile);
  const last = await followUntilLive(events, exited, echo.more).finally(echo.end);
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

/**
 * The holder's log into this step's log as it grows. The holder prints the way this step does (toolkit info:
 * text that could hold a workflow command inside a stop-commands block), so its lines go out as they are, but
 * only whole lines, and a block it left open (it died mid-write, or the step returns while it writes) is
 * closed: else the runner would ignore this step's own commands after it. What is left of an unfinished line
 * at the end is printed as plain text.
 */
function holderLogEcho(path: string): { more: () => void; end: () => void } {
  let from = 0;
  let open: string | undefined;
  let pending = Buffer.alloc(0); // bytes after the last newline: cut there, never inside a UTF-8 character
  const track = (line: string) => {
    if (open === undefined) open = /^::stop-commands::([0-9a-f]{32})$/.exec(line)?.[1];
    else if (line === `::${open}::`) open = undefined;
  };
  const more = () => {
    const chunk = readFrom(path, from);
    from += chunk.length;
    const bytes = Buffer.concat([pending, chunk]);
    const cut = bytes.lastIndexOf(0x0a) + 1;
    pending = bytes.subarray(cut);
    if (cut === 0) return;
    process.stdout.write(bytes.subarray(0, cut));
    for (const line of bytes
      .subarray(0, cut - 1)
      .toString("utf8")
      .split(/\r?\n/))
      track(line);
  };
  const end = () => {
    more();
    const rest = pending.toString("utf8");
    if (open !== undefined) process.stdout.write(`${rest}${EOL}::${open}::${EOL}`);
    else if (rest) info(rest);
    open = undefined;
    pending = Buffer.alloc(0);
  };
  return { more, end };
}

/** The bytes of a file from `offset` on (none if it does not exist yet). */
function readFrom(path: string, offset: number): Buffer {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return Buffer.alloc(0);
  }
  try {
    return bytesFrom(fd, offset);
  } finally {
    closeSync(fd);
  }
}

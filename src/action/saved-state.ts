import { execFileSync } from "node:child_process";
import { lstatSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { PREVIEW_NAME } from "../config/check/scalars.js";
import { PREVIEW_STATES, type PreviewState } from "../config/types.js";
import type { PreviewLabels } from "../docker/types.js";
import { readRunContext } from "../github/pull-request.js";
import type { SavedStateName } from "./toolkit.js";

/**
 * What main saved for the post step, checked before the post step acts on it. The runner takes state from
 * `::save-state name=X::V` in any line of main's output as well as from GITHUB_STATE, so a value may come from
 * the pull request's build or app output (main prints that as inert text; this is the second line of defence):
 * each value must be one this run could have written, or it is ignored and named in `ignored`.
 */
export interface SavedState {
  /** main got past input validation (and saved this run's labels, checked against its env). */
  readonly started: boolean;
  readonly labels?: PreviewLabels;
  /** A container id; the post step still checks that the container carries `labels`. */
  readonly container?: string;
  readonly comment?: number;
  readonly deployment?: number;
  /** The detached holder's pid; the post step still checks that the process is that holder. */
  readonly holder?: number;
  /** The holder's events file: in this job's RUNNER_TEMP, named as startDetached names it. */
  readonly events?: string;
  readonly finished: boolean;
  readonly outcome?: PreviewState;
  readonly commentShows?: PreviewState;
}

const STATES: readonly PreviewState[] = PREVIEW_STATES;
const NAME = PREVIEW_NAME;
const LABEL_KEYS = ["ml-preview.repo", "ml-preview.pr", "ml-preview.run", "ml-preview.name"] as const;

/** Where the detached holder's files go: `<RUNNER_TEMP>/ml-preview-<name>-<main's pid>` + `.events`/`.log`. */
export function holderFilesBase(env: NodeJS.ProcessEnv, name: string, pid = process.pid): string {
  return join(resolve(env.RUNNER_TEMP || tmpdir()), `ml-preview-${name}-${pid}`);
}

export function readSavedState(
  read: (name: SavedStateName) => string,
  env: NodeJS.ProcessEnv,
): { state: SavedState; ignored: string[] } {
  const ignored: string[] = [];
  const check = <T>(
    name: SavedStateName,
    parse: (raw: string) => T | undefined,
    why: string,
  ): T | undefined => {
    const raw = read(name);
    if (raw === "") return undefined;
    const value = parse(raw);
    if (value === undefined) ignored.push(`${name} ${JSON.stringify(raw.slice(0, 100))} (${why})`);
    return value;
  };
  const id = (raw: string) => (/^[1-9]\d{0,15}$/.test(raw) ? Number(raw) : undefined);
  const state = (raw: string) => STATES.find((s) => s === raw);
  const labels = check("labels", (raw) => ownLabels(raw, env), "not this run's labels");
  // Without this run's labels nothing can be told to be ours: main always saves them with `started`.
  const started = check(
    "started",
    (raw) => (raw === "true" && labels ? true : undefined),
    "no labels of this run",
  );
  return {
    state: {
      started: started === true,
      labels,
      container: check(
        "container",
        (raw) => (/^[0-9a-f]{12,64}$/.test(raw) ? raw : undefined),
        "not a container id",
      ),
      comment: check("comment", id, "not a comment id"),
      deployment: check("deployment", id, "not a deployment id"),
      holder: check("holder", (raw) => (/^[1-9]\d{0,9}$/.test(raw) ? Number(raw) : undefined), "not a pid"),
      events: check(
        "events",
        (raw) => (isHolderEventsFile(raw, env) ? raw : undefined),
        "not a file this run made",
      ),
      finished: check("finished", (raw) => (raw === "true" ? true : undefined), "not true") === true,
      outcome: check("outcome", state, "not a preview state"),
      commentShows: check("comment-shows", state, "not a preview state"),
    },
    ignored,
  };
}

/** The labels main saved, if they are exactly this run's: its repository and run from the runner's env. */
function ownLabels(raw: string, env: NodeJS.ProcessEnv): PreviewLabels | undefined {
  let labels: Record<string, unknown>;
  try {
    labels = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof labels !== "object" || labels === null || Array.isArray(labels)) return undefined;
  const keys = Object.keys(labels).sort();
  if (keys.join() !== [...LABEL_KEYS].sort().join()) return undefined;
  if (!keys.every((k) => typeof labels[k] === "string")) return undefined;
  const l = labels as unknown as PreviewLabels;
  let run: ReturnType<typeof readRunContext>;
  try {
    run = readRunContext(env);
  } catch {
    return undefined;
  }
  const inputName = env.INPUT_NAME?.trim();
  const ok =
    l["ml-preview.repo"] === `${run.owner}/${run.repo}` &&
    l["ml-preview.run"] === run.runId &&
    /^(?:[1-9]\d{0,9}|none)$/.test(l["ml-preview.pr"]) &&
    NAME.test(l["ml-preview.name"]) &&
    (!inputName || inputName === l["ml-preview.name"]);
  return ok ? l : undefined;
}

/**
 * A holder events file of this job: directly in its RUNNER_TEMP, named as holderFilesBase names it, and, if it
 * exists yet, a regular file of this user (not a link to something else).
 */
export function isHolderEventsFile(path: string, env: NodeJS.ProcessEnv): boolean {
  const dir = resolve(env.RUNNER_TEMP || tmpdir());
  const m = /^ml-preview-(.+)-[1-9]\d{0,9}\.events$/.exec(basename(path));
  if (resolve(path) !== path || dirname(path) !== dir || !m || !NAME.test(m[1]!)) return false;
  return isOwnFileOrNone(path);
}

/** The holder's log beside its events file (checked like it before it is deleted). */
export const holderLogOf = (eventsFile: string) => eventsFile.replace(/\.events$/, ".log");

/** Absent, or a regular file (not a symlink) of this user. */
export function isOwnFileOrNone(path: string): boolean {
  try {
    const st = lstatSync(path);
    return st.isFile() && (process.getuid === undefined || st.uid === process.getuid());
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ENOENT";
  }
}

/**
 * Is `pid` this job's holder? Alive, running `node <this action's dist>/holder.js`, and started for `events`
 * (ML_PREVIEW_EVENTS_FILE in its environment): a pid can be reused by any process after the holder exits.
 * "gone": no such process.
 */
export function holderProcess(pid: number, events: string, holderScript: string): "ours" | "other" | "gone" {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ESRCH" ? "gone" : "other";
  }
  const proc = readProc(pid);
  if (proc === "no-proc") return psCommand(pid)?.includes(holderScript) ? "ours" : "other";
  if (!proc) return "other";
  const ours = proc.argv[1] === holderScript && proc.environ.includes(`ML_PREVIEW_EVENTS_FILE=${events}`);
  return ours ? "ours" : "other";
}

function readProc(pid: number): { argv: string[]; environ: string[] } | "no-proc" | undefined {
  try {
    return {
      argv: readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0"),
      environ: readFileSync(`/proc/${pid}/environ`, "utf8").split("\0"),
    };
  } catch {
    try {
      lstatSync("/proc/self");
      return undefined; // a Linux process we may not read: not ours
    } catch {
      return "no-proc";
    }
  }
}

/** Where there is no /proc (macOS): its command line from ps. */
function psCommand(pid: number): string | undefined {
  try {
    return execFileSync("ps", ["-p", String(pid), "-o", "command="], { encoding: "utf8" });
  } catch {
    return undefined;
  }
}

/** Does a container carry every one of these labels, with these values? */
export function carriesLabels(
  containerLabels: Record<string, string> | undefined,
  labels: PreviewLabels,
): boolean {
  return LABEL_KEYS.every((k) => containerLabels?.[k] === labels[k]);
}

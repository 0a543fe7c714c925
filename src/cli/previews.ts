import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { homedir, hostname } from "node:os";
import { basename, join } from "node:path";
import type Docker from "dockerode";
import { sweepContainers } from "../docker/sweep.js";
import { type EventLine, readEventsFile } from "../lifecycle/events-file.js";
import { FINAL_STATES } from "../lifecycle/types.js";

/**
 * The first argument of a `--detach` holder: `ml-preview --detached-holder NAME`. Its real flags (secrets
 * among them) come through its stdin, never its argv, which any user on the machine can read (`ps`).
 */
export const HOLDER_ARG = "--detached-holder";

/**
 * This machine's previews, as `ls` and `down` see them. Each CLI run (foreground or --detach) keeps a
 * record file and an events file in the state folder while it lives. Its run id names the machine, the
 * process and the process's start time, and every container it starts carries it as `ml-preview.run`:
 * a preview whose process died (kill -9, a closed shell) is found by the next up, ls or down and removed.
 */
export interface PreviewRecord {
  readonly name: string;
  readonly runId: string;
  readonly pid: number;
  readonly command: "up" | "share";
  readonly startedAt: string;
  readonly log?: string;
}

export interface PreviewRow extends PreviewRecord {
  readonly state: "starting" | "live" | "ending" | "dead";
  readonly url?: string;
  readonly localUrl?: string;
  readonly expiresAt?: Date;
  /** Why this record is not the caller's to act on (another user's file or process): it is only reported. */
  readonly notOurs?: string;
}

export function stateDir(env: NodeJS.ProcessEnv): string {
  if (env.ML_PREVIEW_STATE_DIR) return env.ML_PREVIEW_STATE_DIR;
  return join(env.XDG_STATE_HOME || join(env.HOME || homedir(), ".local", "state"), "ml-preview");
}

/** A state folder the CLI must not use: `ls`, `down` and `up` stop with this before acting on anything. */
export class StateDirError extends Error {}

/**
 * The state folder, made 0700 when missing, and refused when another user owns it or others can write to
 * it: whoever can write there can plant records that `down --all` would act on, and read `--detach` logs.
 * A folder that cannot be made (a read-only home) is left to the callers, which then work without records.
 */
export function checkStateDir(env: NodeJS.ProcessEnv): string {
  const dir = stateDir(env);
  const uid = process.getuid?.();
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch {
    return dir;
  }
  if (uid === undefined) return dir; // no uids (Windows): nothing to check against
  const st = statSync(dir);
  const named = env.ML_PREVIEW_STATE_DIR
    ? `ML_PREVIEW_STATE_DIR (${dir})`
    : `The state folder ${dir} (set ML_PREVIEW_STATE_DIR to use another)`;
  if (st.uid !== uid)
    throw new StateDirError(
      `${named} belongs to uid ${st.uid}, not to you (uid ${uid}): another user could plant preview records there for \`down\` to act on. Point ML_PREVIEW_STATE_DIR at a folder of your own, or unset it for ~/.local/state/ml-preview.`,
    );
  if ((st.mode & 0o022) !== 0)
    throw new StateDirError(
      `${named} can be written by ${st.mode & 0o002 ? "every user" : "its group"} (mode ${(st.mode & 0o7777).toString(8)}): another user could plant preview records there for \`down\` to act on. Make it yours alone (\`chmod 700 ${dir}\`) or point ML_PREVIEW_STATE_DIR at a folder of your own.`,
    );
  return dir;
}

/**
 * `cli:MACHINE:PID:START`. MACHINE is the host name plus the pid namespace (a CLI in a container on the host
 * network shares the host's name, not its pids); START is the process's start time in clock ticks since
 * boot (Linux), else 0.
 */
export function runIdFor(pid = process.pid): string {
  return `cli:${machine()}:${pid}:${processStart(pid) ?? 0}`;
}

function machine(): string {
  let ns = "";
  try {
    ns = /\[(\d+)\]/.exec(readlinkSync("/proc/self/ns/pid"))?.[1] ?? "";
  } catch {
    // not Linux: the host name alone
  }
  return ns ? `${hostname()}/${ns}` : hostname();
}

/** Field 22 of /proc/PID/stat (start time), counted after the command name, which may hold spaces. */
function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // A zombie (killed, not yet reaped by its parent) is dead for our purpose.
    return fields[0] === "Z" ? "zombie" : fields[19];
  } catch {
    return undefined;
  }
}

/** Is the process that owns this run id still the same process (a reused pid has another start time)? */
export function runAlive(runId: string): boolean {
  const [, host, pid, start] = runId.split(":");
  if (host !== machine() || !pid) return true; // another machine's preview is not ours to judge
  try {
    process.kill(Number(pid), 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  const now = processStart(Number(pid));
  return now !== "zombie" && (start === "0" || now === start);
}

const files = (dir: string, runId: string) => ({
  record: join(dir, `${runId.replace(/[:/]/g, "_")}.json`),
  events: join(dir, `${runId.replace(/[:/]/g, "_")}.events`),
});

export function register(dir: string, record: PreviewRecord): { events: string; forget: () => void } {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const f = files(dir, record.runId);
  writeFileSync(f.record, `${JSON.stringify(record)}\n`, { mode: 0o600 });
  return {
    events: f.events,
    forget: () => {
      for (const path of [f.record, f.events, record.log]) if (path) rmSync(path, { force: true });
    },
  };
}

export function eventsPath(dir: string, runId: string): string {
  return files(dir, runId).events;
}

/**
 * Every recorded preview with its state from its events file; dead ones are marked, not yet removed. A
 * record that is not the caller's (recordNotOurs, processNotOurs) is listed with `notOurs`, for callers to
 * report only.
 */
export function listPreviews(dir: string): PreviewRow[] {
  if (!existsSync(dir)) return [];
  const rows: PreviewRow[] = [];
  for (const entry of readdirSync(dir).filter((f) => f.endsWith(".json"))) {
    const path = join(dir, entry);
    let record: PreviewRecord;
    let fileWhy: string | undefined;
    try {
      record = JSON.parse(readFileSync(path, "utf8")) as PreviewRecord;
      fileWhy = recordNotOurs(path);
    } catch {
      continue; // being written (or removed) right now
    }
    const alive = runAlive(record.runId);
    const notOurs = fileWhy ?? (alive ? processNotOurs(record.runId) : undefined);
    // Another user's record says nothing trustworthy about its state: never read its events file.
    const events = fileWhy ? [] : readEventsFile(files(dir, record.runId).events);
    rows.push({
      ...record,
      ...stateOf(events),
      ...(alive ? {} : { state: "dead" }),
      ...(notOurs ? { notOurs } : {}),
    });
  }
  return rows.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
}

const myUid = () => process.getuid?.();

/** A record file written by someone else (or a link to anything) is not acted on. */
function recordNotOurs(path: string): string | undefined {
  const uid = myUid();
  if (uid === undefined) return undefined;
  const st = lstatSync(path);
  if (!st.isFile()) return `its record ${path} is not a plain file`;
  if (st.uid !== uid) return `its record ${path} belongs to uid ${st.uid}, not to you (uid ${uid})`;
  return undefined;
}

/**
 * Is the live process a run id names the caller's own ml-preview (foreground `up`/`share` or a `--detach`
 * holder)? Its real and effective uid must be the caller's (/proc/PID/status), and its command line an
 * ml-preview one (/proc/PID/cmdline): the script `cli.js` or `ml-preview`, then up, share or HOLDER_ARG.
 * A run of another machine (or pid namespace) is never ours to signal. Without /proc (not Linux) only the
 * record's owner is checked.
 */
export function processNotOurs(runId: string): string | undefined {
  const uid = myUid();
  const [, host, pidText] = runId.split(":");
  // Its pid means another process here: the preview is to be ended where it runs.
  if (host !== machine()) return `it runs on another machine or in another pid namespace (${host})`;
  const pid = Number(pidText);
  if (uid === undefined || !(pid > 0)) return undefined;
  let status: string;
  let argv: string[];
  try {
    status = readFileSync(`/proc/${pid}/status`, "utf8");
    argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  } catch {
    return undefined; // gone meanwhile, or no /proc (not Linux)
  }
  const [real, effective] = (/^Uid:\s+(\d+)\s+(\d+)/m.exec(status) ?? []).slice(1).map(Number);
  if (real !== uid || effective !== uid)
    return `its process ${pid} runs as uid ${real ?? "?"}, not as you (uid ${uid})`;
  const script = argv.findIndex((a, i) => i > 0 && !a.startsWith("-"));
  const ours =
    script > 0 &&
    ["cli.js", "ml-preview"].includes(basename(argv[script]!)) &&
    ["up", "share", HOLDER_ARG].includes(argv[script + 1] ?? "");
  if (!ours) return `its process ${pid} is not ml-preview (${argv.join(" ").trim().slice(0, 80)})`;
  return undefined;
}

function stateOf(events: EventLine[]): Pick<PreviewRow, "state" | "url" | "localUrl" | "expiresAt"> {
  const live = events.filter((e) => e.event === "live").at(-1);
  const ended = events.some((e) => FINAL_STATES.includes(e.event as never));
  const state = ended ? "ending" : live ? "live" : "starting";
  return {
    state,
    url: live?.details.url,
    localUrl: live?.details.localUrl,
    expiresAt: live?.details.expiresAt,
  };
}

/**
 * Removes what dead CLI runs of this machine left: their containers (found by the run label, whether or
 * not a record exists) and their record files. Returns the names of the previews cleaned up.
 */
export async function sweepDead(dir: string, docker: Docker | undefined): Promise<string[]> {
  const cleaned: string[] = [];
  for (const row of listPreviews(dir).filter((r) => r.state === "dead" && !r.notOurs)) {
    if (docker) await sweepContainers(docker, { "ml-preview.run": row.runId }).catch(() => []);
    register(dir, row).forget();
    cleaned.push(row.name);
  }
  if (!docker) return cleaned;
  // Containers (and the apps' networks) of dead runs of this machine, with or without a record.
  const mine = `cli:${machine()}:`;
  const label = { label: ["ml-preview.run"] };
  const [containers, networks] = await Promise.all([
    docker.listContainers({ all: true, filters: label }).catch(() => []),
    docker.listNetworks({ filters: label }).catch(() => []),
  ]);
  const dead = new Map<string, string>();
  for (const found of [...containers, ...networks]) {
    const run = found.Labels?.["ml-preview.run"] ?? "";
    if (run.startsWith(mine) && !dead.has(run) && !runAlive(run))
      dead.set(run, found.Labels?.["ml-preview.name"] ?? run);
  }
  for (const [run, name] of dead) {
    await sweepContainers(docker, { "ml-preview.run": run }).catch(() => []);
    cleaned.push(name);
  }
  return [...new Set(cleaned)];
}

/**
 * SIGTERM, then wait for the holder's clean-up; a holder that does not end in time is killed and swept.
 * Only the caller's own ml-preview process is signalled (checked again right before each signal).
 */
export async function stopPreview(
  dir: string,
  row: PreviewRow,
  docker: Docker | undefined,
  graceMs = 30_000,
): Promise<void> {
  const pid = Number(row.runId.split(":")[2]);
  const signal = (sig: NodeJS.Signals) => {
    if (row.notOurs || !runAlive(row.runId) || processNotOurs(row.runId)) return;
    try {
      process.kill(pid, sig);
    } catch {
      // gone meanwhile
    }
  };
  signal("SIGTERM");
  const deadline = Date.now() + graceMs;
  while (runAlive(row.runId) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  signal("SIGKILL");
  await sweepDead(dir, docker);
}

import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { homedir, hostname } from "node:os";
import { join } from "node:path";
import type Docker from "dockerode";
import { sweepContainers } from "../docker/sweep.js";
import { type EventLine, readEventsFile } from "../lifecycle/events-file.js";
import { FINAL_STATES } from "../lifecycle/types.js";

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
}

export function stateDir(env: NodeJS.ProcessEnv): string {
  if (env.ML_PREVIEW_STATE_DIR) return env.ML_PREVIEW_STATE_DIR;
  return join(env.XDG_STATE_HOME || join(env.HOME || homedir(), ".local", "state"), "ml-preview");
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

/** Every recorded preview with its state from its events file; dead ones are marked, not yet removed. */
export function listPreviews(dir: string): PreviewRow[] {
  if (!existsSync(dir)) return [];
  const rows: PreviewRow[] = [];
  for (const entry of readdirSync(dir).filter((f) => f.endsWith(".json"))) {
    let record: PreviewRecord;
    try {
      record = JSON.parse(readFileSync(join(dir, entry), "utf8")) as PreviewRecord;
    } catch {
      continue; // being written right now
    }
    const events = readEventsFile(files(dir, record.runId).events);
    rows.push({ ...record, ...stateOf(events), ...(runAlive(record.runId) ? {} : { state: "dead" }) });
  }
  return rows.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
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
  for (const row of listPreviews(dir).filter((r) => r.state === "dead")) {
    if (docker) await sweepContainers(docker, { "ml-preview.run": row.runId }).catch(() => []);
    register(dir, row).forget();
    cleaned.push(row.name);
  }
  if (!docker) return cleaned;
  const mine = `cli:${machine()}:`;
  const containers = await docker
    .listContainers({ all: true, filters: { label: ["ml-preview.run"] } })
    .catch(() => []);
  for (const c of containers) {
    const run = c.Labels["ml-preview.run"] ?? "";
    if (!run.startsWith(mine) || runAlive(run)) continue;
    await sweepContainers(docker, { "ml-preview.run": run }).catch(() => []);
    cleaned.push(c.Labels["ml-preview.name"] ?? run);
  }
  return [...new Set(cleaned)];
}

/** SIGTERM, then wait for the holder's clean-up; a holder that does not end in time is killed and swept. */
export async function stopPreview(
  dir: string,
  row: PreviewRow,
  docker: Docker | undefined,
  graceMs = 30_000,
): Promise<void> {
  const pid = Number(row.runId.split(":")[2]);
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    // already gone
  }
  const deadline = Date.now() + graceMs;
  while (runAlive(row.runId) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (runAlive(row.runId)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone meanwhile
    }
  }
  await sweepDead(dir, docker);
}

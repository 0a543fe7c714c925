import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import type Docker from "dockerode";
import { HOLDER_LABEL } from "./host-config.js";
import { stopAndRemove } from "./remove.js";
import type { PreviewLabels } from "./types.js";

/**
 * Removes every container (running or not) carrying all the given labels, and returns their ids.
 * The post step uses it after a crash, with repo/pr/run from saved state. Images stay, for the cache.
 * Refuses an empty selector: on a shared self-hosted runner that would also take other runs' previews.
 */
export async function sweepContainers(docker: Docker, labels: Partial<PreviewLabels>): Promise<string[]> {
  const selectors = Object.entries(labels)
    .filter(([, value]) => value !== undefined && value !== "")
    .map(([key, value]) => `${key}=${value}`);
  if (selectors.length === 0) throw new Error("sweepContainers needs at least one label value to select by");
  const found = await docker.listContainers({ all: true, filters: { label: selectors } });
  await Promise.all(found.map((c) => stopAndRemove(docker.getContainer(c.Id))));
  return found.map((c) => c.Id);
}

/**
 * Which process holds a container (HOLDER_LABEL): `<hostname>/<pid>/<start time>`. The start time (clock
 * ticks since boot, from /proc) tells a reused pid from the holder; `-` where there is no /proc.
 */
export function thisHolder(): string {
  return `${hostname()}/${process.pid}/${startTime(process.pid) ?? "-"}`;
}

/**
 * Is the holder over? `ended`: on this host and its process gone (or the pid reused); `running`: its
 * process runs here; `unknown`: another machine's run, or a container of a version without the label.
 */
export function holderFate(holder: string | undefined): "ended" | "running" | "unknown" {
  const m = /^(.*)\/(\d+)\/(\d+|-)$/.exec(holder ?? "");
  if (!m || m[1] !== hostname()) return "unknown";
  const pid = Number(m[2]);
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ESRCH" ? "ended" : "running";
  }
  return m[3] !== "-" && startTime(pid) !== m[3] ? "ended" : "running";
}

function startTime(pid: number): string | undefined {
  try {
    // Field 22 of /proc/<pid>/stat; the command name (field 2, in parentheses) may contain spaces.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

/**
 * Before a run starts: removes the containers of the same repository, PR and name whose run is over — their
 * holder process ended without cleaning up (killed outright: no finally, no post step). Where the holder
 * cannot be told (another machine sharing the engine, no holder label), `runOver` decides from the run
 * label (`RUN_ID.ATTEMPT`; the Action asks the Actions API); without it such containers stay. A container
 * whose holder still runs here is left alone: that run sees the comment taken over and ends as superseded.
 * Returns what was removed, with the run that left it.
 */
export async function removeEndedRuns(
  docker: Docker,
  labels: PreviewLabels,
  runOver?: (run: string) => Promise<boolean>,
): Promise<Array<{ id: string; run: string }>> {
  const selectors = (["ml-preview.repo", "ml-preview.pr", "ml-preview.name"] as const).map(
    (key) => `${key}=${labels[key]}`,
  );
  const found = await docker.listContainers({ all: true, filters: { label: selectors } });
  const ended: typeof found = [];
  for (const c of found) {
    const run = c.Labels["ml-preview.run"];
    if (run === labels["ml-preview.run"]) continue;
    const fate = holderFate(c.Labels[HOLDER_LABEL]);
    if (fate === "ended" || (fate === "unknown" && run && runOver && (await runOver(run)))) ended.push(c);
  }
  await Promise.all(ended.map((c) => stopAndRemove(docker.getContainer(c.Id))));
  return ended.map((c) => ({ id: c.Id, run: c.Labels["ml-preview.run"] ?? "?" }));
}

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

/** true only when the holder is known to be over: on this host, and its process gone (or the pid reused). */
export function holderEnded(holder: string | undefined): boolean {
  const m = /^(.*)\/(\d+)\/(\d+|-)$/.exec(holder ?? "");
  if (!m || m[1] !== hostname()) return false; // another machine's run, or an older version: cannot tell
  const pid = Number(m[2]);
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ESRCH";
  }
  return m[3] !== "-" && startTime(pid) !== m[3];
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
 * holder process ended without cleaning up (killed outright: no finally, no post step). A container whose
 * holder still runs is left alone: that run sees the comment taken over and ends as superseded itself.
 * Returns what was removed, with the run that left it.
 */
export async function removeEndedRuns(
  docker: Docker,
  labels: PreviewLabels,
): Promise<Array<{ id: string; run: string }>> {
  const selectors = (["ml-preview.repo", "ml-preview.pr", "ml-preview.name"] as const).map(
    (key) => `${key}=${labels[key]}`,
  );
  const found = await docker.listContainers({ all: true, filters: { label: selectors } });
  const ended = found.filter(
    (c) => c.Labels["ml-preview.run"] !== labels["ml-preview.run"] && holderEnded(c.Labels[HOLDER_LABEL]),
  );
  await Promise.all(ended.map((c) => stopAndRemove(docker.getContainer(c.Id))));
  return ended.map((c) => ({ id: c.Id, run: c.Labels["ml-preview.run"] ?? "?" }));
}

import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import type Docker from "dockerode";
import { HOLDER_LABEL } from "./host-config.js";
import { labelledNetworks, removeNetwork } from "./network.js";
import { stopAndRemove } from "./remove.js";
import type { PreviewLabels } from "./types.js";

/**
 * Removes every container (running or not) carrying all the given labels, then every network carrying
 * them (the apps' own networks), and returns the containers' ids. The post step uses it after a crash, with
 * repo/pr/run from saved state. Images stay, for the cache. Refuses an empty selector: on a shared
 * self-hosted runner that would also take other runs' previews. A container that cannot be removed is the
 * error reported, before any network left with it.
 */
export async function sweepContainers(docker: Docker, labels: Partial<PreviewLabels>): Promise<string[]> {
  const selectors = Object.entries(labels)
    .filter(([, value]) => value !== undefined && value !== "")
    .map(([key, value]) => `${key}=${value}`);
  if (selectors.length === 0) throw new Error("sweepContainers needs at least one label value to select by");
  const found = await docker.listContainers({ all: true, filters: { label: selectors } });
  const containers = await Promise.allSettled(found.map((c) => stopAndRemove(docker.getContainer(c.Id))));
  const networks = await labelledNetworks(docker, selectors).then(
    (list) => Promise.allSettled(list.map((n) => removeNetwork(docker, { id: n.Id, name: n.Name }))),
    (err: unknown) => [{ status: "rejected" as const, reason: err }],
  );
  // The containers' errors first: a network left with its container is not the news.
  const failed = [...containers, ...networks].find((r) => r.status === "rejected");
  if (failed) throw failed.reason;
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

/** What removeEndedRuns removed: a container or an app's network, and the run that left it. */
export interface LeftBehind {
  readonly kind: "container" | "network";
  /** The container's id, or the network's name. */
  readonly id: string;
  readonly run: string;
}

/**
 * Before a run starts: removes the containers (then the networks) of the same repository, PR and name whose
 * run is over — their holder process ended without cleaning up (killed outright: no finally, no post step).
 * Where the holder cannot be told (another machine sharing the engine, no holder label), `runOver` decides
 * from the run label (`RUN_ID.ATTEMPT`; the Action asks the Actions API); without it such things stay. One
 * whose holder still runs here is left alone: that run sees the comment taken over and ends as superseded.
 * Returns what was removed, with the run that left it.
 */
export async function removeEndedRuns(
  docker: Docker,
  labels: PreviewLabels,
  runOver?: (run: string) => Promise<boolean>,
): Promise<LeftBehind[]> {
  const selectors = (["ml-preview.repo", "ml-preview.pr", "ml-preview.name"] as const).map(
    (key) => `${key}=${labels[key]}`,
  );
  const [containers, networks] = await Promise.all([
    docker.listContainers({ all: true, filters: { label: selectors } }),
    labelledNetworks(docker, selectors),
  ]);
  // A run's container and network ask about the same run: ask once.
  const asked = new Map<string, Promise<boolean>>();
  const over = async (found: { Labels?: Record<string, string> }) => {
    const run = found.Labels?.["ml-preview.run"];
    if (run === labels["ml-preview.run"]) return false;
    const fate = holderFate(found.Labels?.[HOLDER_LABEL]);
    if (fate !== "unknown" || !run || !runOver) return fate === "ended";
    if (!asked.has(run)) asked.set(run, runOver(run));
    return asked.get(run)!;
  };
  const runOf = (found: { Labels?: Record<string, string> }) => found.Labels?.["ml-preview.run"] ?? "?";
  const removed: LeftBehind[] = [];
  const endedContainers = [];
  for (const c of containers) if (await over(c)) endedContainers.push(c);
  await Promise.all(endedContainers.map((c) => stopAndRemove(docker.getContainer(c.Id))));
  removed.push(...endedContainers.map((c) => ({ kind: "container" as const, id: c.Id, run: runOf(c) })));
  // After the containers: a network goes only once nothing is attached to it.
  for (const n of networks) {
    if (!(await over(n))) continue;
    await removeNetwork(docker, { id: n.Id, name: n.Name });
    removed.push({ kind: "network", id: n.Name, run: runOf(n) });
  }
  return removed;
}

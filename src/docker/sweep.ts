import type Docker from "dockerode";
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

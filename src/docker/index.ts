/** The Runtime: everything the lifecycle asks of the Docker engine. */
export { dockerClient } from "./client.js";
export { startContainer } from "./container.js";
export type { DiskCheck, SpaceNeed } from "./disk.js";
export { checkDiskSpace, diskSpaceError, spaceNeeded } from "./disk.js";
export { prepareImage } from "./image.js";
export { waitUntilReady } from "./readiness/index.js";
export { stopAndRemove } from "./remove.js";
export { removeEndedRuns, sweepContainers } from "./sweep.js";
export type * from "./types.js";
export type { CacheScope, CacheVolume, VolumeExport, VolumeTransfer } from "./volumes.js";
export {
  cacheDirProblem,
  cacheVolumeName,
  ensureCacheVolumes,
  exportVolume,
  importVolume,
  removeCacheVolumes,
} from "./volumes.js";

/** The Runtime: everything the lifecycle asks of the Docker engine. */
export { dockerClient } from "./client.js";
export { startContainer } from "./container.js";
export { prepareImage } from "./image.js";
export { waitUntilReady } from "./readiness/index.js";
export { stopAndRemove } from "./remove.js";
export { removeEndedRuns, sweepContainers } from "./sweep.js";
export type * from "./types.js";

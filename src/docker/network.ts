import { randomBytes } from "node:crypto";
import type Docker from "dockerode";
import { PreviewError } from "../errors.js";
import { engineMessage, removalWhy, statusCode } from "./docker-errors.js";
import { HOLDER_LABEL } from "./host-config.js";
import { whileEngineAway } from "./remove.js";
import type { EnginePatience, PreviewLabels } from "./types.js";

/** The app's own network: its name and id. */
export interface AppNetwork {
  readonly id: string;
  readonly name: string;
}

/**
 * Docker's default bridge joins every container on the engine, so on a shared self-hosted runner the PR's
 * app could reach (and be reached by) other jobs' containers. Each preview gets a user-defined bridge of its
 * own instead: Docker isolates bridges from each other, so the app reaches no other container and none
 * reaches it. A plain bridge, not `internal`: the app still gets out (weights, APIs). Inter-container
 * traffic is off inside it too: should anything else ever be connected to it, it cannot talk to the app.
 * It carries the container's labels (and holder), so every sweep that finds the container finds it.
 */
export async function createAppNetwork(
  docker: Docker,
  labels: PreviewLabels,
  holder: string | undefined,
): Promise<AppNetwork> {
  const name = `ml-preview-${labels["ml-preview.name"]}-${randomBytes(4).toString("hex")}`;
  try {
    const network = await docker.createNetwork({
      Name: name,
      Driver: "bridge",
      Internal: false,
      Attachable: false,
      EnableIPv6: false,
      CheckDuplicate: true,
      Options: { "com.docker.network.bridge.enable_icc": "false" },
      Labels: { ...labels, ...(holder ? { [HOLDER_LABEL]: holder } : {}) },
    });
    return { id: network.id, name };
  } catch (err) {
    const message = engineMessage(err);
    const advice = /address pool|non-overlapping/i.test(message)
      ? "Docker has no free address range for another network: remove unused ones with `docker network prune`, or give the engine more (`default-address-pools` in daemon.json)."
      : "Check the Docker engine's message above.";
    throw new PreviewError("run", `Docker could not create the app's network: ${message}. ${advice}`, {
      code: "DOCKER_NETWORK_FAILED",
      cause: err,
    });
  }
}

/** How long a network whose container is still detaching (`has active endpoints`) is tried again. */
const DETACH_WAIT_MS = 5000;

/**
 * Removes the app's network (gone already counts as done). Tried again while the engine does not answer,
 * within `patience` (see whileEngineAway), and briefly while the engine is still detaching the container;
 * the error then names the network and the `docker network rm` to run.
 */
export async function removeNetwork(
  docker: Docker,
  network: AppNetwork,
  patience: EnginePatience = { patienceMs: 0 },
): Promise<void> {
  const detachedBy = Date.now() + DETACH_WAIT_MS;
  for (;;) {
    try {
      await whileEngineAway(() => removeOnce(docker, network.id), patience);
      return;
    } catch (err) {
      if (activeEndpoints(err) && Date.now() < detachedBy) {
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      throw networkRemoveError(network.name, err, patience.patienceMs);
    }
  }
}

async function removeOnce(docker: Docker, id: string): Promise<void> {
  try {
    await docker.getNetwork(id).remove();
  } catch (err) {
    if (statusCode(err) !== 404) throw err;
  }
}

const activeEndpoints = (err: unknown) => /active endpoints/i.test(engineMessage(err));

function networkRemoveError(name: string, err: unknown, patienceMs: number): PreviewError {
  const why = removalWhy(err, patienceMs);
  return new PreviewError(
    "run",
    `Could not remove network ${name}: ${why}. Remove it by hand with \`docker network rm ${name}\`.`,
    { code: "DOCKER_NETWORK_REMOVE_FAILED", cause: err },
  );
}

/** The networks carrying all these labels (`key=value` selectors), as the engine lists them. */
export async function labelledNetworks(
  docker: Docker,
  selectors: readonly string[],
): Promise<Docker.NetworkInspectInfo[]> {
  return docker.listNetworks({ filters: { label: [...selectors] } });
}

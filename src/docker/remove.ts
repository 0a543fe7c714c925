import type Docker from "dockerode";
import { PreviewError } from "../errors.js";
import { engineAway, engineMessage, isGone, removalWhy } from "./docker-errors.js";
import { STOP_GRACE_SECONDS } from "./host-config.js";
import type { EnginePatience } from "./types.js";

/** Back-off between tries while the engine does not answer. */
const RETRY_FIRST_MS = 250;
const RETRY_MAX_MS = 5000;

/**
 * SIGTERM, SIGKILL after the grace period, then remove with its anonymous volumes. A container that is
 * already stopped (304) or gone (404, removal in progress) counts as done. While the engine does not answer
 * it is tried again with back-off for `patienceMs`; the error then says exactly which container is left.
 */
export async function stopAndRemove(
  container: Docker.Container,
  graceSeconds = STOP_GRACE_SECONDS,
  patience: EnginePatience = { patienceMs: 0 },
): Promise<void> {
  try {
    await whileEngineAway(() => stopAndRemoveOnce(container, graceSeconds), patience);
  } catch (err) {
    throw removeError(container.id, err, patience.patienceMs);
  }
}

/** Runs `attempt` until it succeeds, fails for a reason other than a missing engine, or patience runs out. */
export async function whileEngineAway<T>(attempt: () => Promise<T>, patience: EnginePatience): Promise<T> {
  const deadline = Date.now() + patience.patienceMs;
  for (let waitMs = RETRY_FIRST_MS; ; waitMs = Math.min(waitMs * 2, RETRY_MAX_MS)) {
    try {
      return await attempt();
    } catch (err) {
      if (!engineAway(err) || Date.now() >= deadline) throw err;
      if (waitMs === RETRY_FIRST_MS) patience.onWaiting?.(engineMessage(err));
      await new Promise((r) => setTimeout(r, Math.min(waitMs, Math.max(0, deadline - Date.now()))));
    }
  }
}

async function stopAndRemoveOnce(container: Docker.Container, graceSeconds: number): Promise<void> {
  try {
    await container.stop({ t: graceSeconds });
  } catch (err) {
    if (isGone(err)) return;
    if (engineAway(err)) throw err;
    // 304 = already stopped; any other failure: `remove --force` below still kills it, or reports why not.
  }
  try {
    await container.remove({ force: true, v: true });
  } catch (err) {
    if (!isGone(err)) throw err;
  }
}

function removeError(id: string, err: unknown, patienceMs: number): PreviewError {
  const why = removalWhy(err, patienceMs);
  return new PreviewError(
    "run",
    `Could not remove container ${id.slice(0, 12)}: ${why}; it may still be running. ` +
      `Remove it by hand with \`docker rm -f ${id.slice(0, 12)}\`.`,
    { code: "DOCKER_REMOVE_FAILED", cause: err },
  );
}

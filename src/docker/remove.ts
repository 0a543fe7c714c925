import type Docker from "dockerode";
import { PreviewError } from "../errors.js";
import { engineMessage, isGone } from "./docker-errors.js";
import { STOP_GRACE_SECONDS } from "./host-config.js";

/**
 * SIGTERM, SIGKILL after the grace period, then remove with its anonymous volumes. A container that is
 * already stopped (304) or gone (404, removal in progress) counts as done.
 */
export async function stopAndRemove(
  container: Docker.Container,
  graceSeconds = STOP_GRACE_SECONDS,
): Promise<void> {
  try {
    await container.stop({ t: graceSeconds });
  } catch (err) {
    if (isGone(err)) return;
    // 304 = already stopped; any other failure: `remove --force` below still kills it, or reports why not.
  }
  try {
    await container.remove({ force: true, v: true });
  } catch (err) {
    if (!isGone(err)) throw removeError(container.id, err);
  }
}

function removeError(id: string, err: unknown): PreviewError {
  return new PreviewError(
    "run",
    `Could not remove container ${id.slice(0, 12)}: ${engineMessage(err)}. ` +
      `Remove it by hand with \`docker rm -f ${id.slice(0, 12)}\`.`,
    { code: "DOCKER_REMOVE_FAILED", cause: err },
  );
}

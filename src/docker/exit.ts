import type Docker from "dockerode";
import type { ContainerExit } from "../lifecycle/types.js";
import { isGone } from "./docker-errors.js";

/** Exit code when the container vanished before its code could be read (removed from outside). */
export const UNKNOWN_EXIT_CODE = -1;

/**
 * How often the container is inspected while it runs. A wait request whose connection breaks after the
 * engine sent its headers never settles (docker-modem does not see the response abort), so the wait alone
 * cannot be trusted across an engine outage: the inspection sees an exit, an outage and the engine's return.
 */
const HEARTBEAT_MS = 1000;

export interface ExitWatch {
  /** The engine answered again after an outage and the container still runs: re-attach what broke. */
  readonly onRearm?: () => void;
}

/**
 * Resolves once the container stops; never rejects. Called after start: the default wait condition
 * ("not-running") answers at once for a container that already exited, so an exit before this call is
 * not missed. An engine outage (restart, socket gone, tcp/ssh DOCKER_HOST dropped) is not an exit: the
 * container is inspected until the engine answers again, then watched anew if it still runs, or its exit
 * read if it stopped meanwhile. Only the engine saying "no such container" makes an unknown exit.
 */
export async function watchExit(container: Docker.Container, watch: ExitWatch = {}): Promise<ContainerExit> {
  let waited: number | undefined;
  let wake = () => {};
  let current: AbortController | undefined;
  const armWait = () => {
    current?.abort();
    const mine = new AbortController();
    current = mine;
    container.wait({ abortSignal: mine.signal }).then(
      (r: { StatusCode?: number }) => {
        waited = r.StatusCode;
        wake();
      },
      () => {
        if (current === mine) current = undefined; // dropped: re-armed on the next beat while it runs
        wake();
      },
    );
  };
  let broken = false;
  try {
    armWait();
    for (;;) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, HEARTBEAT_MS);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      const state = await inspectState(container);
      if (state === "unreachable") {
        broken = true;
        continue;
      }
      if (state === "gone") return { exitCode: waited ?? UNKNOWN_EXIT_CODE };
      if (!state.Running)
        return { exitCode: waited ?? state.ExitCode, ...(state.OOMKilled ? { oomKilled: true } : {}) };
      if (broken) watch.onRearm?.();
      if (broken || !current) armWait();
      broken = false;
    }
  } finally {
    current?.abort();
  }
}

/** The container's state; "gone" only when the engine says so (404), "unreachable" when it cannot say. */
async function inspectState(
  container: Docker.Container,
): Promise<Docker.ContainerInspectInfo["State"] | "gone" | "unreachable"> {
  try {
    return (await container.inspect()).State;
  } catch (err) {
    return isGone(err) ? "gone" : "unreachable";
  }
}

/** How the app ended, in words a user can act on ("The app …"). */
export function describeExit(exit: ContainerExit): string {
  const code = exit.exitCode;
  if (exit.oomKilled)
    return `ran out of memory and was killed (exit code ${code}): raise \`memory\` or load a smaller model`;
  switch (code) {
    case UNKNOWN_EXIT_CODE:
      return "stopped, and its exit code is unknown because the container was removed";
    case 126:
      return "exited with code 126 (its command is not executable): check the image's CMD/ENTRYPOINT or `command`";
    case 127:
      return "exited with code 127 (its command was not found): check the image's CMD/ENTRYPOINT or `command`";
    case 137:
      return "was killed (SIGKILL, exit code 137)";
    case 139:
      return "crashed with a segmentation fault (exit code 139)";
    default:
      return `exited with code ${code}`;
  }
}

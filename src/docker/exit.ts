import type Docker from "dockerode";
import type { ContainerExit } from "./types.js";

/** Exit code when the container vanished before its code could be read (removed from outside). */
export const UNKNOWN_EXIT_CODE = -1;

/**
 * Resolves once the container stops; never rejects. Called after start: the default wait condition
 * ("not-running") answers at once for a container that already exited, so an exit before this call is
 * not missed. A dropped wait connection (tcp/ssh DOCKER_HOST, engine restart) is re-armed while the
 * container still runs.
 */
export async function watchExit(container: Docker.Container): Promise<ContainerExit> {
  for (let retryMs = 100; ; retryMs = Math.min(retryMs * 2, 2000)) {
    let exitCode: number | undefined;
    try {
      const result = (await container.wait()) as { StatusCode?: number };
      exitCode = result.StatusCode;
    } catch {
      // read the state below
    }
    const state = await container.inspect().then(
      (info) => info.State,
      () => undefined,
    );
    if (exitCode === undefined && state?.Running) {
      await new Promise((r) => setTimeout(r, retryMs));
      continue;
    }
    return {
      exitCode: exitCode ?? state?.ExitCode ?? UNKNOWN_EXIT_CODE,
      ...(state?.OOMKilled ? { oomKilled: true } : {}),
    };
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

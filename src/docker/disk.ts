import { statfs } from "node:fs/promises";
import { dirname } from "node:path";
import type Docker from "dockerode";
import { PreviewError, type PreviewStep } from "../errors.js";
import type { Logger } from "../log.js";

/**
 * Free space of the engine's data root before a pull or build, so a runner short of disk hears it before
 * the step dies half-way with "no space left on device" (warnIfLowOnDisk, called by ensureImage before a
 * pull and prepareImage before a build). GitHub-hosted runners guarantee only ~14 GB free.
 */

/** A build's need is not known in advance: ML images (CUDA, torch) commonly take this much while building. */
export const BUILD_MARGIN_BYTES = 10e9;
/** Headroom on top of a pull's own layers: the engine's bookkeeping, and the app's first writes. */
export const PULL_MARGIN_BYTES = 1e9;
/**
 * Registries report compressed layer sizes; unpacked layers take about this many times more (gzip on
 * Python/CUDA files), and the compressed download sits next to them until each layer is extracted.
 */
export const PULL_UNPACK_FACTOR = 3;

export type SpaceNeed =
  | { readonly kind: "build" }
  | { readonly kind: "pull"; readonly compressedBytes?: number };

export interface DiskCheck {
  /** "unknown": the engine is remote, or its data root is not on this machine's filesystem. */
  readonly status: "ok" | "low" | "unknown";
  readonly neededBytes: number;
  readonly freeBytes?: number;
  readonly dataRoot?: string;
}

/** Bytes a pull (with the registry's compressed size, when known) or a build is expected to need. */
export function spaceNeeded(need: SpaceNeed): number {
  if (need.kind === "build") return BUILD_MARGIN_BYTES;
  return (need.compressedBytes ?? 0) * PULL_UNPACK_FACTOR + PULL_MARGIN_BYTES;
}

/**
 * Compares the free space of the engine's data root (`docker info` DockerRootDir) with `neededBytes`.
 * Only for a local engine (DOCKER_HOST unset or a unix socket) whose data root exists here: Docker
 * Desktop's VM, remote and ssh engines answer "unknown". The data root itself may be unreadable to the
 * runner user (/var/lib/docker is 0710); statfs needs no read access, and when even that is refused the
 * nearest parent that answers is measured (the same filesystem on every runner image we know).
 */
export async function checkDiskSpace(
  docker: Docker,
  neededBytes: number,
  env: NodeJS.ProcessEnv = process.env,
): Promise<DiskCheck> {
  if (!engineIsLocal(env)) return { status: "unknown", neededBytes };
  const dataRoot = String((await docker.info()).DockerRootDir ?? "");
  if (!dataRoot.startsWith("/")) return { status: "unknown", neededBytes };
  const freeBytes = await freeSpace(dataRoot);
  if (freeBytes === undefined) return { status: "unknown", neededBytes, dataRoot };
  return { status: freeBytes < neededBytes ? "low" : "ok", neededBytes, freeBytes, dataRoot };
}

/** DOCKER_HOST unset or a unix socket: the engine's disk is this machine's. */
export function engineIsLocal(env: NodeJS.ProcessEnv = process.env): boolean {
  const host = env.DOCKER_HOST ?? "";
  return host === "" || host.startsWith("unix://");
}

/** The message for a "low" check, with the runner's fix; `what` is e.g. "Pulling ghcr.io/o/app:1". */
export function diskSpaceError(check: DiskCheck, step: PreviewStep, what: string): PreviewError {
  return new PreviewError(
    step,
    `${what} needs about ${gigabytes(check.neededBytes)} of disk, and the Docker engine's data root ` +
      `${check.dataRoot} has ${gigabytes(check.freeBytes ?? 0)} free. Free space before this step: on ` +
      "GitHub-hosted runners remove preinstalled toolchains the job does not use (e.g. `sudo rm -rf " +
      "/usr/share/dotnet /usr/local/lib/android /opt/ghc /opt/hostedtoolcache/CodeQL` and `docker image prune -af`), " +
      "or run on a larger runner.",
    { code: "DISK_SPACE_LOW" },
  );
}

/**
 * Before a pull or build: a warning with the runner's fix when the engine's data root has less free space
 * than the step is expected to need. A warning, not an error: the need is an estimate (a build's is a
 * margin), and a step that fits after all must not be refused. Measuring problems say nothing.
 */
export async function warnIfLowOnDisk(
  docker: Docker,
  need: SpaceNeed,
  step: PreviewStep,
  what: string,
  log: Logger,
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  const check = await checkDiskSpace(docker, spaceNeeded(need), env).catch(() => undefined);
  if (check?.status === "low") log.warning(diskSpaceError(check, step, what).message);
}

async function freeSpace(path: string): Promise<number | undefined> {
  for (let dir = path; ; dir = dirname(dir)) {
    try {
      const stats = await statfs(dir);
      // bavail: what an unprivileged writer may use; the engine runs as root, but the runner's reserve
      // blocks are not worth planning on.
      return stats.bavail * stats.bsize;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || dir === "/") return undefined;
    }
  }
}

function gigabytes(bytes: number): string {
  return `${(bytes / 1e9).toFixed(1)} GB`;
}

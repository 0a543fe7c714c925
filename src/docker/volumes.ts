import { createHash } from "node:crypto";
import { posix } from "node:path";
import { type Readable, Transform, type TransformCallback, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type Docker from "dockerode";
import { PreviewError } from "../errors.js";
import { engineMessage, isGone } from "./docker-errors.js";
import { type VolumeMount, volumeMounts } from "./host-config.js";
import type { PreviewLabels } from "./types.js";

/**
 * `cache-dirs` (Action) / `--cache-dir` (CLI): named Docker volumes that keep what an app downloads at
 * start-up (model weights, …) between previews. What the next session wires:
 * - config: `cacheDirProblem(path)` (src/config/check/paths.ts) for each entry, wrapped in an error naming the door's input/flag;
 * - before startContainer: `ensureCacheVolumes(docker, scope, paths)`; when the Action restores from the
 *   Actions cache, `importVolume` each volume's tar (before the app container exists);
 *   then `startContainer(..., { ...opts, volumes })` mounts them;
 * - once ready: `exportVolume` each to a tar file with `maxBytes` = what is left of the cache budget
 *   (overBudget → report, do not upload), then @actions/cache saveCache on the files;
 * - CLI `down --volumes`: `removeCacheVolumes(docker, { repo, name })`.
 * Data moves through the engine's container archive endpoints on a created, never started container of the
 * app's own image with the volume mounted: no extra image, no host bind mount, works when the runner user
 * cannot read the engine's data root, and tar headers keep the owner (uid/gid) and mode the app wrote.
 */

/** Which app a cache belongs to. Not the PR or run: the point is that the next preview finds it. */
export interface CacheScope {
  readonly repo: string;
  readonly name: string;
}

/** Labels on our cache volumes; `ml-preview.cache-dir` is the container path the volume is mounted at. */
export interface CacheVolumeLabels {
  readonly "ml-preview.repo": string;
  readonly "ml-preview.name": string;
  readonly "ml-preview.cache-dir": string;
}

export interface CacheVolume extends VolumeMount {
  readonly labels: CacheVolumeLabels;
}

export interface VolumeTransfer {
  /** The app's image: the transfer container is created from it (and never started). */
  readonly imageId: string;
  readonly volume: VolumeMount;
  /** The preview's labels, so a transfer container left by a crash is swept with the preview's own. */
  readonly labels: PreviewLabels;
}

export interface VolumeExport {
  /** Bytes of tar written to `to` (when over budget: how far it got before stopping). */
  readonly bytes: number;
  /** True when the tar grew past `maxBytes`: `to` was destroyed part-way and holds no usable archive. */
  readonly overBudget: boolean;
}

/**
 * A stable volume name for (repo, app name, path): the same app on the same machine finds its volume
 * again, after an image rebuild too. Readable prefix for `docker volume ls`, hash for uniqueness.
 */
export function cacheVolumeName(scope: CacheScope, path: string): string {
  const hash = createHash("sha256")
    .update(`${scope.repo}\n${scope.name}\n${cacheDirPath(path)}`)
    .digest("hex");
  const slug = scope.name
    .toLowerCase()
    .replace(/[^a-z0-9_.-]+/g, "-")
    .replace(/^[-.]+/, "")
    .slice(0, 24);
  return `ml-preview-cache-${slug ? `${slug}-` : ""}${hash.slice(0, 16)}`;
}

/** The one spelling of a cache dir: normalised, without a trailing slash. */
function cacheDirPath(path: string): string {
  return posix.normalize(path).replace(/(.)\/+$/, "$1");
}

/** Creates (or finds: volume create is idempotent for a name) one volume per path. */
export async function ensureCacheVolumes(
  docker: Docker,
  scope: CacheScope,
  paths: readonly string[],
): Promise<CacheVolume[]> {
  const volumes = [...new Set(paths.map(cacheDirPath))].map((path) => ({
    name: cacheVolumeName(scope, path),
    path,
    labels: { "ml-preview.repo": scope.repo, "ml-preview.name": scope.name, "ml-preview.cache-dir": path },
  }));
  for (const v of volumes) {
    await docker.createVolume({ Name: v.name, Labels: { ...v.labels } }).catch((err: unknown) => {
      throw volumeError(`Could not create volume ${v.name} for cache dir ${v.path}`, err);
    });
  }
  return volumes;
}

/**
 * Streams the volume's content as a tar (entries relative to the mount path, owners and modes as the app
 * wrote them) into `to`, counting bytes. Past `maxBytes` it stops, destroys `to` and reports overBudget:
 * the caller deletes the partial file. Nothing is buffered whole: the engine's response is piped through.
 */
export async function exportVolume(
  docker: Docker,
  transfer: VolumeTransfer,
  to: Writable,
  maxBytes = Number.POSITIVE_INFINITY,
): Promise<VolumeExport> {
  return withTransferContainer(docker, transfer, async (container) => {
    // "<path>/." as `docker cp SRC/.` does: the directory's content, not the directory under its own name.
    const archive = (await container.getArchive({ path: `${transfer.volume.path}/.` })) as Readable;
    const counter = new ByteCounter(maxBytes);
    try {
      await pipeline(archive, counter, to);
      return { bytes: counter.bytes, overBudget: false };
    } catch (err) {
      if (err instanceof OverBudget) return { bytes: counter.bytes, overBudget: true };
      throw err;
    }
  });
}

/**
 * Extracts a tar (as exportVolume wrote it) into the volume, streaming. Files already in the volume stay
 * unless the archive overwrites them. Returns the bytes read.
 */
export async function importVolume(
  docker: Docker,
  transfer: VolumeTransfer,
  from: Readable,
): Promise<number> {
  return withTransferContainer(docker, transfer, async (container) => {
    const counter = new ByteCounter(Number.POSITIVE_INFINITY);
    const body = from.pipe(counter);
    from.once("error", (err) => counter.destroy(err));
    await container.putArchive(body, { path: transfer.volume.path });
    return counter.bytes;
  });
}

/** Removes our cache volumes of one repo (and app name, when given); returns their names. */
export async function removeCacheVolumes(
  docker: Docker,
  scope: Pick<CacheScope, "repo"> & Partial<CacheScope>,
) {
  if (!scope.repo) throw new Error("removeCacheVolumes needs the repo to select by");
  const label = [`ml-preview.repo=${scope.repo}`, "ml-preview.cache-dir"];
  if (scope.name) label.push(`ml-preview.name=${scope.name}`);
  const { Volumes } = await docker.listVolumes({ filters: { label } });
  const names = (Volumes ?? []).map((v) => v.Name);
  for (const name of names) {
    await docker
      .getVolume(name)
      .remove()
      .catch((err: unknown) => {
        if (!isGone(err))
          throw volumeError(`Could not remove volume ${name} (is a container still using it?)`, err);
      });
  }
  return names;
}

async function withTransferContainer<T>(
  docker: Docker,
  transfer: VolumeTransfer,
  use: (container: Docker.Container) => Promise<T>,
): Promise<T> {
  const container = await docker
    .createContainer({
      Image: transfer.imageId,
      // Never started: the archive endpoints work on created containers. The command only has to exist
      // for create to accept images without CMD (FROM scratch).
      Entrypoint: ["/ml-preview-volume-transfer"],
      Cmd: [],
      Labels: { ...transfer.labels, "ml-preview.role": "volume-transfer" },
      NetworkDisabled: true,
      HostConfig: { Binds: [], Mounts: volumeMounts([transfer.volume]), AutoRemove: false },
    })
    .catch((err: unknown) => {
      throw volumeError(
        `Could not create a container of ${transfer.imageId.slice(0, 19)} to reach volume ${transfer.volume.name}`,
        err,
      );
    });
  try {
    return await use(container);
  } catch (err) {
    throw err instanceof PreviewError
      ? err
      : volumeError(`Could not copy volume ${transfer.volume.name} (${transfer.volume.path})`, err);
  } finally {
    // v: anonymous volumes of the image go; named volumes (ours) stay.
    await container.remove({ force: true, v: true }).catch(() => undefined);
  }
}

class OverBudget extends Error {}

class ByteCounter extends Transform {
  bytes = 0;

  constructor(private readonly maxBytes: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) done(new OverBudget(`over ${this.maxBytes} bytes`));
    else done(null, chunk);
  }
}

function volumeError(what: string, err: unknown): PreviewError {
  return new PreviewError("run", `${what}: ${engineMessage(err)}.`, { code: "CACHE_VOLUME", cause: err });
}

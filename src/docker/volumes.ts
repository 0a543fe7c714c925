import { createHash } from "node:crypto";
import { posix } from "node:path";
import { Readable, Transform, type TransformCallback, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type Docker from "dockerode";
import { PreviewError } from "../errors.js";
import { BLOCK, tarEnd, tarHeader } from "./context-tar.js";
import { engineMessage, isGone } from "./docker-errors.js";
import { type VolumeMount, volumeMounts } from "./host-config.js";
import type { PreviewLabels } from "./types.js";

/**
 * `cache-dirs` (Action) / `--cache-dir` (CLI): named Docker volumes that keep what an app downloads at
 * start-up (model weights, …) between previews. Data moves through the engine's container archive
 * endpoints, on a created, never started container of an image with no files (TRANSFER_IMAGE) with the
 * volume mounted: no host bind mount, it works when the runner user cannot read the engine's data root, tar
 * headers keep the owner (uid/gid) and mode the app wrote, and a volume can be filled before the app's own
 * image is built or pulled.
 */

/** Which app a cache belongs to. Not the run: the point is that the next preview finds it. */
export interface CacheScope {
  readonly repo: string;
  readonly name: string;
  /**
   * A pull request's previews keep volumes of their own. On an engine that outlives the job (a self-hosted
   * runner, a remote DOCKER_HOST) the volume is itself a cache: what a PR's app wrote there must not be what
   * the default branch's next preview mounts (and then saves to the Actions cache as its own). GitHub's
   * cache scopes follow the same rule; undefined: a branch's run, or the CLI.
   */
  readonly pr?: number;
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
  const pr = scope.pr === undefined ? "" : `pr${scope.pr}`;
  const hash = createHash("sha256")
    .update(`${scope.repo}\n${scope.name}\n${cacheDirPath(path)}${pr ? `\n${pr}` : ""}`)
    .digest("hex");
  const slug = scope.name
    .toLowerCase()
    .replace(/[^a-z0-9_.-]+/g, "-")
    .replace(/^[-.]+/, "")
    .slice(0, 24);
  return `ml-preview-cache-${pr ? `${pr}-` : ""}${slug ? `${slug}-` : ""}${hash.slice(0, 16)}`;
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
 * unless the archive overwrites them. The archive's root entry ("./") goes on the volume's root last: the
 * engine skips the root when it extracts into a directory, and without it a restored volume would be
 * root's, 0755, where the app's image made it its user's. An error of `from`, or `signal`, aborts the copy
 * (what arrived stays in the volume: the caller empties it). Returns the bytes read.
 */
export async function importVolume(
  docker: Docker,
  transfer: VolumeTransfer,
  from: Readable,
  signal?: AbortSignal,
): Promise<number> {
  // Listening from the start: the source may fail while the transfer container is being made.
  const abort = new AbortController();
  let failure: unknown;
  from.once("error", (err) => {
    failure = err;
    abort.abort();
  });
  const stop = () => abort.abort();
  signal?.addEventListener("abort", stop, { once: true });
  try {
    return await withTransferContainer(docker, transfer, async (container) => {
      abort.signal.throwIfAborted();
      // A few MiB of slack between the source and the engine, so neither waits on the other's every chunk.
      const counter = new ByteCounter(Number.POSITIVE_INFINITY, 8 * 1024 * 1024);
      await container.putArchive(from.pipe(counter), {
        path: transfer.volume.path,
        abortSignal: abort.signal,
      });
      const root = rootEntryAt(counter.head, transfer.volume.path);
      if (root) await container.putArchive(Readable.from([root]), { path: "/", abortSignal: abort.signal });
      return counter.bytes;
    });
  } catch (err) {
    throw failure ?? (signal?.aborted ? signal.reason : err);
  } finally {
    signal?.removeEventListener("abort", stop);
  }
}

/** Empties volumes (remove and create again, same name and labels): what is left of a copy cut short. */
export async function emptyCacheVolumes(docker: Docker, volumes: readonly CacheVolume[]): Promise<void> {
  for (const v of volumes) {
    await docker
      .getVolume(v.name)
      .remove()
      .catch((err: unknown) => {
        if (!isGone(err)) throw volumeError(`Could not empty volume ${v.name} (${v.path})`, err);
      });
    await docker.createVolume({ Name: v.name, Labels: { ...v.labels } }).catch((err: unknown) => {
      throw volumeError(`Could not create volume ${v.name} for cache dir ${v.path}`, err);
    });
  }
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

/**
 * The image transfer containers are made of: no files at all (the engine imports it from an empty tar in
 * one request), so no app image is needed and none is pulled. Kept on the engine (0 bytes) for the next
 * transfer; `ml-preview down --volumes` removes it with the volumes.
 */
const TRANSFER_IMAGE = { repo: "ml-preview/volume-transfer", tag: "empty" } as const;
const TRANSFER_ROLE = "volume-transfer";

async function transferImage(docker: Docker): Promise<string> {
  const ref = `${TRANSFER_IMAGE.repo}:${TRANSFER_IMAGE.tag}`;
  try {
    return (await docker.getImage(ref).inspect()).Id;
  } catch (err) {
    if (!isGone(err)) throw err;
  }
  // Two tar end blocks: an archive with nothing in it.
  const answer = (await docker.importImage(Readable.from([Buffer.alloc(1024)]), {
    repo: TRANSFER_IMAGE.repo,
    tag: TRANSFER_IMAGE.tag,
    changes: [`LABEL ml-preview.role=${TRANSFER_ROLE}`],
  })) as Readable;
  let text = "";
  for await (const chunk of answer) text += chunk;
  const id = /sha256:[0-9a-f]{64}/.exec(text)?.[0];
  if (!id) throw new Error(`the engine did not import the empty transfer image: ${text.trim()}`);
  return id;
}

/** Removes the transfer image (when no transfer is under way: an image in use stays). */
export async function removeTransferImage(docker: Docker): Promise<void> {
  await docker
    .getImage(`${TRANSFER_IMAGE.repo}:${TRANSFER_IMAGE.tag}`)
    .remove()
    .catch(() => undefined);
}

async function withTransferContainer<T>(
  docker: Docker,
  transfer: VolumeTransfer,
  use: (container: Docker.Container) => Promise<T>,
): Promise<T> {
  const container = await transferImage(docker)
    .then((image) =>
      docker.createContainer({
        Image: image,
        // Never started: the archive endpoints work on created containers. The command only has to exist
        // for create to accept an image without CMD.
        Entrypoint: ["/ml-preview-volume-transfer"],
        Cmd: [],
        Labels: { ...transfer.labels, "ml-preview.role": TRANSFER_ROLE },
        NetworkDisabled: true,
        HostConfig: { Binds: [], Mounts: volumeMounts([transfer.volume]), AutoRemove: false },
      }),
    )
    .catch((err: unknown) => {
      throw volumeError(`Could not create a container to reach volume ${transfer.volume.name}`, err);
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

/**
 * A one-entry tar that, extracted at "/", gives the volume's root (mounted at `mountPath`) the owner, mode
 * and mtime of `head`, the archive's first header, when that is its root ("./", a directory, as the
 * engine's archive of "<path>/." starts).
 */
export function rootEntryAt(head: Buffer | undefined, mountPath: string): Buffer | undefined {
  if (!head || !isRootEntry(head)) return undefined;
  const octal = (offset: number, width: number) =>
    Number.parseInt(field(head, offset, width).trim() || "0", 8);
  const entry = {
    name: `${mountPath.replace(/^\/+/, "")}/`,
    type: "directory" as const,
    size: 0,
    mode: octal(100, 8) & 0o7777,
    uid: octal(108, 8),
    gid: octal(116, 8),
    mtime: octal(136, 12),
  };
  return Buffer.concat([tarHeader(entry), tarEnd()]);
}

/** Is this tar header block the archive's root, "./" (a directory), as the engine's archive of a volume starts? */
export function isRootEntry(block: Buffer): boolean {
  return (
    block.length >= BLOCK &&
    block[156] === 0x35 /* "5": a directory */ &&
    /^\.\/?$/.test(field(block, 0, 100))
  );
}

const field = (block: Buffer, offset: number, width: number) =>
  block
    .subarray(offset, offset + width)
    .toString("latin1")
    .replace(/\0[\s\S]*$/, "");

class OverBudget extends Error {}

/** Counts what passes (stopping past maxBytes) and keeps the first tar block: the root entry. */
class ByteCounter extends Transform {
  bytes = 0;
  head?: Buffer;

  constructor(
    private readonly maxBytes: number,
    highWaterMark?: number,
  ) {
    super({ highWaterMark });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    if (this.bytes < BLOCK)
      this.head = Buffer.concat([this.head ?? Buffer.alloc(0), chunk.subarray(0, BLOCK - this.bytes)]);
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) done(new OverBudget(`over ${this.maxBytes} bytes`));
    else done(null, chunk);
  }
}

function volumeError(what: string, err: unknown): PreviewError {
  return new PreviewError("run", `${what}: ${engineMessage(err)}.`, { code: "CACHE_VOLUME", cause: err });
}

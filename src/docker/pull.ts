import type Docker from "dockerode";
import { isImageReference } from "../config/check/image.js";
import type { RegistryAuth } from "../config/types.js";
import { PreviewError, type PreviewStep } from "../errors.js";
import type { Logger } from "../log.js";
import type { EngineEvent } from "./build-progress.js";
import { engineIsLocal, warnIfLowOnDisk } from "./disk.js";
import { engineMessage } from "./docker-errors.js";
import { registryOf } from "./image-ref.js";
import { readEngineStream } from "./json-events.js";
import { pullError } from "./pull-errors.js";
import { registryImageSize } from "./registry-size.js";

export interface LocalImage {
  readonly imageId: string;
  readonly pulled: boolean;
  readonly pullMs: number;
}

/** `ref` as the engine has it: used when present locally, otherwise pulled (with credentials when given). */
export async function ensureImage(
  docker: Docker,
  ref: string,
  auth: RegistryAuth | undefined,
  log: Logger,
  signal?: AbortSignal,
): Promise<LocalImage> {
  if (!isImageReference(ref)) {
    throw new PreviewError(
      "pull",
      `"${ref}" is not an image reference. Set \`image\` to name[:tag] or name@digest, lowercase, e.g. ghcr.io/owner/app:1.0.`,
      { code: "DOCKER_BAD_REFERENCE" },
    );
  }
  const local = await localImageId(docker, ref);
  if (local) {
    log.info(`Using ${ref} (${shortId(local)}), already in the Docker engine.`);
    return { imageId: local, pulled: false, pullMs: 0 };
  }
  // The registry's layer sizes, when it says them (only worth asking when the engine's disk is ours).
  const size = engineIsLocal()
    ? await registryImageSize(docker, ref, { auth, authconfig: authConfig(ref, auth) }, log)
    : undefined;
  const what = size
    ? `Pulling ${ref} (${megabytes(size.compressedBytes)} compressed for ${size.platform}, as its registry says)`
    : `Pulling ${ref}`;
  await warnIfLowOnDisk(docker, { kind: "pull", compressedBytes: size?.compressedBytes }, "pull", what, log);
  const started = Date.now();
  await pullImage(docker, ref, auth, log, { step: "pull", role: "image", signal });
  const imageId = await localImageId(docker, ref);
  if (!imageId) throw new PreviewError("pull", `The engine reported ${ref} pulled, but does not have it.`);
  const pullMs = Date.now() - started;
  log.info(`Pulled ${ref} (${shortId(imageId)}) in ${(pullMs / 1000).toFixed(1)} s.`);
  return { imageId, pulled: true, pullMs };
}

/** The image id of `ref` in the engine, or undefined when the engine does not have it. */
export async function localImageId(docker: Docker, ref: string): Promise<string | undefined> {
  try {
    return (await docker.getImage(ref).inspect()).Id;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return undefined;
    throw new PreviewError("pull", `The Docker engine could not look up ${ref}: ${engineMessage(err)}`, {
      cause: err,
    });
  }
}

export interface PullOptions {
  readonly step: PreviewStep;
  readonly role: "image" | "base image" | "cache image";
  readonly signal?: AbortSignal;
}

/** Pulls `ref`, layer progress into `log`; a failure becomes a PreviewError that names the registry. */
export async function pullImage(
  docker: Docker,
  ref: string,
  auth: RegistryAuth | undefined,
  log: Logger,
  opts: PullOptions,
): Promise<void> {
  const fail = (message: string, cause?: unknown) =>
    pullError(
      message,
      { step: opts.step, ref, withCredentials: auth !== undefined, role: roleWord(opts.role) },
      cause,
    ) ??
    new PreviewError(
      opts.step,
      `Could not pull ${ref}: ${message}. Check the image name (${hint(message)}).`,
      {
        code: "DOCKER_PULL_FAILED",
        cause,
      },
    );
  log.info(`Pulling ${ref} from ${registryOf(ref).display}...`);
  let failure: string | undefined;
  const progress = new PullProgress((line) => log.info(line));
  try {
    const stream = await docker.pull(ref, { authconfig: authConfig(ref, auth), abortSignal: opts.signal });
    await readEngineStream(stream, (event) => {
      const error = event.errorDetail?.message ?? event.error;
      if (error) failure ??= error;
      else {
        progress.push(event);
        logPullEvent(event, log);
      }
    });
  } catch (err) {
    if (opts.signal?.aborted)
      throw new PreviewError(opts.step, `Pulling ${ref} was cancelled.`, { code: "CANCELLED", cause: err });
    throw fail(engineMessage(err), err);
  }
  if (failure) throw fail(failure);
  progress.end();
}

/** How often a pull's running total is logged: often enough to show it moves, rarely enough to read. */
export const PULL_PROGRESS_INTERVAL_MS = 5_000;

interface LayerBytes {
  total: number;
  current: number;
  done: boolean;
}

/**
 * A pull's bytes, summed over its layers from the engine's "Downloading" events: every
 * PULL_PROGRESS_INTERVAL_MS one line of layers done, bytes and rate, and a last line with the totals, as
 * builds log their steps. Per-layer byte events are not logged one by one (a torch image sends thousands).
 */
export class PullProgress {
  private readonly layers = new Map<string, LayerBytes>();
  private readonly present = new Set<string>();
  private firstByteAt: number | undefined;
  private lastLineAt = 0;

  constructor(
    private readonly emit: (line: string) => void,
    private readonly now: () => number = Date.now,
    private readonly intervalMs = PULL_PROGRESS_INTERVAL_MS,
  ) {}

  push(event: EngineEvent): void {
    if (!event.id || !event.status) return;
    if (event.status === "Already exists") this.present.add(event.id);
    const layer = this.layers.get(event.id);
    if (event.status === "Downloading" && event.progressDetail?.total) {
      const entry = layer ?? { total: 0, current: 0, done: false };
      entry.total = event.progressDetail.total;
      entry.current = Math.min(event.progressDetail.current ?? 0, entry.total);
      this.layers.set(event.id, entry);
      if (this.firstByteAt === undefined) this.firstByteAt = this.lastLineAt = this.now();
      if (this.now() - this.lastLineAt >= this.intervalMs) this.line();
    } else if (layer && /^(Download complete|Pull complete)$/.test(event.status)) {
      layer.current = layer.total;
      layer.done = true;
    }
  }

  /** The closing line; nothing when no layer was downloaded (all present, or an engine without byte counts). */
  end(): void {
    if (this.firstByteAt === undefined) return;
    const { bytes } = this.sums();
    const seconds = Math.max((this.now() - this.firstByteAt) / 1000, 0.001);
    const present = this.present.size > 0 ? ` (${this.present.size} already present)` : "";
    this.emit(
      `Downloaded ${megabytes(bytes)} in ${this.layers.size} layer${this.layers.size === 1 ? "" : "s"}${present}` +
        ` in ${seconds.toFixed(1)} s (${megabytes(bytes / seconds)}/s).`,
    );
  }

  private line(): void {
    const now = this.now();
    this.lastLineAt = now;
    const { bytes, total, done } = this.sums();
    const seconds = (now - (this.firstByteAt ?? now)) / 1000;
    const rate = seconds > 0 ? `, ${megabytes(bytes / seconds)}/s` : "";
    this.emit(
      `Downloading: ${done} of ${this.layers.size} layers done, ${megabytes(bytes)} of ${megabytes(total)}${rate}.`,
    );
  }

  private sums() {
    let bytes = 0;
    let total = 0;
    let done = 0;
    for (const layer of this.layers.values()) {
      bytes += layer.current;
      total += layer.total;
      if (layer.done) done++;
    }
    return { bytes, total, done };
  }
}

function megabytes(bytes: number): string {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : `${(bytes / 1e6).toFixed(1)} MB`;
}

export function authConfig(ref: string, auth: RegistryAuth | undefined) {
  return auth
    ? { username: auth.username, password: auth.password, serveraddress: registryOf(ref).authServer }
    : undefined;
}

/** Per-layer byte counts would flood the log; the status changes ("Pull complete", "Digest: ...") are enough. */
function logPullEvent(event: EngineEvent, log: Logger): void {
  if (
    !event.status ||
    event.progress ||
    /^(Downloading|Extracting|Waiting|Verifying Checksum)/.test(event.status)
  )
    return;
  log.info(event.id ? `${event.id}: ${event.status}` : event.status);
}

function roleWord(role: PullOptions["role"]): "image" | "base image" {
  return role === "base image" ? "base image" : "image";
}

function hint(message: string): string {
  return /invalid reference format/i.test(message)
    ? "it must look like name[:tag], lowercase, e.g. ghcr.io/owner/app:1.0"
    : "and that the engine can reach its registry";
}

function shortId(id: string): string {
  return id.replace(/^sha256:/, "").slice(0, 12);
}

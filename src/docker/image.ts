import type Docker from "dockerode";
import type { PreparedImage } from "../lifecycle/types.js";
import type { Logger } from "../log.js";
import { buildWithCache } from "./cache/index.js";
import { warnIfLowOnDisk } from "./disk.js";
import { previewTag } from "./image-ref.js";
import { ensureImage, localImageId } from "./pull.js";
import type { BuildSource, ImageLabels, PreviewLabels } from "./types.js";

export interface PrepareOptions {
  readonly signal?: AbortSignal;
  /** The tag for a build; default `ml-preview/<owner>-<repo>-<name>:pr-<n>` (see previewTag). */
  readonly tag?: string;
  /** Environment for `cache: gha` (runtime token, cache URL, branch names); default process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /** Why the build only reads its `cache` (DockerRuntimeOptions.cacheReadOnly); undefined: it writes it too. */
  readonly cacheReadOnly?: string;
}

/**
 * The image to run: built from the context (with the `cache` input) or the `image` input, used from the
 * engine when present and pulled otherwise. Throws PreviewError (step "build" or "pull") saying what to
 * do. Built images stay in the engine: their layers are the next build's cache.
 */
export async function prepareImage(
  docker: Docker,
  source: BuildSource,
  labels: PreviewLabels,
  log: Logger,
  opts: PrepareOptions = {},
): Promise<PreparedImage> {
  if (source.kind === "image") {
    return log.group(`Image ${source.image}`, async () => {
      const image = await ensureImage(docker, source.image, source.registryAuth, log, opts.signal);
      return {
        imageId: image.imageId,
        ref: source.image,
        built: false,
        buildMs: image.pulled ? image.pullMs : undefined,
      };
    });
  }
  const tag = opts.tag ?? previewTag(labels);
  return log.group(`Build ${tag}`, async () => {
    const request = {
      context: source.context,
      dockerfile: source.dockerfile,
      buildArgs: source.buildArgs,
      secrets: source.buildSecrets,
      target: source.target,
      tag,
      labels: imageLabels(labels),
    };
    await warnIfLowOnDisk(docker, { kind: "build" }, "build", `Building ${tag}`, log, opts.env);
    const previous = await localImageId(docker, tag).catch(() => undefined);
    const result = await buildWithCache(docker, request, source.cache, source.registryAuth, log, {
      signal: opts.signal,
      env: opts.env,
      readOnly: opts.cacheReadOnly !== undefined,
    });
    if (previous && previous !== result.imageId) await removeSuperseded(docker, previous, log);
    return {
      imageId: result.imageId,
      ref: tag,
      built: true,
      buildMs: result.buildMs,
      cachedSteps: result.cachedSteps,
      totalSteps: result.totalSteps,
    };
  });
}

/**
 * The labels an image gets: all but the run. The classic builder turns labels into a final LABEL step, so a
 * per-run label would make every rebuild miss that step and yield a new image; the orphan sweep needs the
 * run only on containers, which keep all labels.
 */
export function imageLabels(labels: PreviewLabels): ImageLabels {
  const { "ml-preview.run": _run, ...stable } = labels;
  return stable;
}

/**
 * The image this tag named before the build, when the build changed it. Without this each changed build
 * would leave an untagged image behind on a persistent engine. Removing it keeps the layers the new image
 * shares with it (the cache); it stays while a container still uses it.
 */
async function removeSuperseded(docker: Docker, imageId: string, log: Logger): Promise<void> {
  try {
    await docker.getImage(imageId).remove();
    log.debug(`Removed the superseded image ${imageId}.`);
  } catch (err) {
    log.debug(`Kept the superseded image ${imageId}: ${(err as Error).message}`);
  }
}

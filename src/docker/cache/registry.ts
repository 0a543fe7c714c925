import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type Docker from "dockerode";
import type { RegistryAuth } from "../../config/types.js";
import { PreviewError } from "../../errors.js";
import type { Logger } from "../../log.js";
import { type BuildRequest, type BuildResult, buildWithEngine } from "../build.js";
import { builderFor } from "../builder-choice.js";
import { engineMessage } from "../docker-errors.js";
import { registryOf, splitRef } from "../image-ref.js";
import { readEngineStream } from "../json-events.js";
import { authConfig, pullImage } from "../pull.js";

/**
 * `cache: registry:<ref>` without buildx: the image itself is the cache. Before the build the engine
 * pulls `<ref>` and the classic builder reuses its layers (`cachefrom`: a step is a hit when the image's
 * history has the same instruction on the same parent, and for COPY/ADD the same file contents); after
 * the build the new image is pushed to `<ref>`. This caches the final stage's layers, which for the usual
 * ML Dockerfile (base, pip install, copy the app) is the expensive part; a multi-stage build's earlier
 * stages are not cached this way (`cache: gha`, with BuildKit's mode=max, caches those too).
 * A Dockerfile that needs BuildKit gets BuildKit's inline cache instead: the pushed image carries cache
 * metadata (BUILDKIT_INLINE_CACHE) and BuildKit fetches only the layers it reuses.
 * Cache trouble never fails the build: one warning, and the build goes on without it.
 */
export async function registryCachedBuild(
  docker: Docker,
  req: BuildRequest,
  ref: string,
  auth: RegistryAuth | undefined,
  log: Logger,
  opts: { readonly signal?: AbortSignal; readonly readOnly?: boolean } = {},
): Promise<BuildResult> {
  const { signal, readOnly = false } = opts;
  const started = Date.now();
  const builder = builderFor(req, await readFile(join(req.context, req.dockerfile), "utf8"));
  const credentials = auth ? { server: registryOf(ref).authServer, auth } : undefined;
  // A read-only run (src/action/trust.ts) pulls like any other: the registry has no scopes, so a push would
  // replace the image every other run builds from.
  let canPush = !readOnly;
  let cacheFrom: string[] = [ref];
  if (builder === "classic") {
    const read = await pullCache(docker, ref, auth, log, { signal, readOnly });
    cacheFrom = read === "ok" ? [ref] : [];
    canPush &&= read !== "failed";
  }
  const buildArgs = builder === "buildkit" ? { ...req.buildArgs, BUILDKIT_INLINE_CACHE: "1" } : req.buildArgs;
  const result = await buildWithEngine(
    docker,
    { ...req, builder, buildArgs, cacheFrom, credentials },
    log,
    signal,
  );
  // A cancelled run must finish its cleanup inside the runner's window: no upload then.
  if (canPush && !signal?.aborted) await pushCache(docker, result.imageId, ref, auth, log);
  // The build time people compare: reading and writing the cache are part of it.
  const buildMs = Date.now() - started;
  log.info(
    `Build with the registry cache took ${(buildMs / 1000).toFixed(1)} s in all (cache pull${readOnly ? "" : " and push"} included).`,
  );
  return { ...result, buildMs };
}

/** "ok": pulled; "empty": no cache there yet (the first build fills it); "failed": warned, go on without. */
async function pullCache(
  docker: Docker,
  ref: string,
  auth: RegistryAuth | undefined,
  log: Logger,
  { signal, readOnly }: { readonly signal?: AbortSignal; readonly readOnly: boolean },
): Promise<"ok" | "empty" | "failed"> {
  try {
    await pullImage(docker, ref, auth, log, { step: "build", role: "cache image", signal });
    return "ok";
  } catch (err) {
    if (signal?.aborted) throw err;
    if (err instanceof PreviewError && err.code === "DOCKER_IMAGE_NOT_FOUND") {
      log.info(`No build cache at ${ref} yet${readOnly ? "" : ": this build fills it"}.`);
      return "empty";
    }
    log.warning(`Could not read the build cache ${ref}: ${(err as Error).message} Building without it.`);
    return "failed";
  }
}

async function pushCache(
  docker: Docker,
  imageId: string,
  ref: string,
  auth: RegistryAuth | undefined,
  log: Logger,
) {
  const { repository, tag } = splitRef(ref);
  const started = Date.now();
  let failure: string | undefined;
  try {
    await docker.getImage(imageId).tag({ repo: repository, tag });
    const stream = await docker
      .getImage(`${repository}:${tag}`)
      .push({ tag, authconfig: authConfig(ref, auth) });
    await readEngineStream(stream, (event) => {
      failure ??= event.errorDetail?.message ?? event.error;
    });
  } catch (err) {
    failure = engineMessage(err);
  }
  if (failure) {
    const creds = auth
      ? "registry-username/registry-password need write access to it"
      : "set registry-username and registry-password";
    log.warning(
      `Could not push the build cache to ${ref}: ${failure}. The preview goes on; to fill the cache, ${creds}.`,
    );
    return;
  }
  log.info(`Pushed the build cache to ${ref} in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
}

import type Docker from "dockerode";
import type { CacheConfig, RegistryAuth } from "../../config/types.js";
import type { Logger } from "../../log.js";
import { type BuildRequest, type BuildResult, buildWithEngine } from "../build.js";
import { ghaBuild } from "./gha.js";
import { registryCachedBuild } from "./registry.js";

export interface CacheOptions {
  readonly signal?: AbortSignal;
  /** Where the gha cache's token, URL and branch names come from. */
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * A build with the `cache` input applied. `none`: the engine's own layer cache only (on a GitHub-hosted
 * runner every job starts empty, so that helps only re-runs on the same engine). `gha` and `registry:`
 * carry layers across runs; when they cannot, the build still happens without them.
 */
export async function buildWithCache(
  docker: Docker,
  req: BuildRequest,
  cache: CacheConfig,
  auth: RegistryAuth | undefined,
  log: Logger,
  opts: CacheOptions = {},
): Promise<BuildResult> {
  if (cache.kind === "registry") return registryCachedBuild(docker, req, cache.ref, auth, log, opts.signal);
  if (cache.kind === "gha") {
    const built = await ghaBuild(docker, req, log, {
      env: opts.env,
      signal: opts.signal,
      withCredentials: auth !== undefined,
    });
    if (built) return built;
  }
  return buildWithEngine(docker, req, log, opts.signal);
}

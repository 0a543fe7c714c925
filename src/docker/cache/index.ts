import type Docker from "dockerode";
import type { CacheConfig, PreviewConfig, RegistryAuth } from "../../config/types.js";
import type { Logger } from "../../log.js";
import { type BuildRequest, type BuildResult, buildWithEngine } from "../build.js";
import { ghaBuild } from "./gha.js";
import { registryCachedBuild } from "./registry.js";

export interface CacheOptions {
  readonly signal?: AbortSignal;
  /** Where the gha cache's token, URL and branch names come from. */
  readonly env?: NodeJS.ProcessEnv;
  /** Read the cache, never write it: the run builds code that is not its ref's own (src/action/trust.ts). */
  readonly readOnly?: boolean;
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
  if (cache.kind === "registry")
    return registryCachedBuild(docker, req, cache.ref, auth, log, {
      signal: opts.signal,
      readOnly: opts.readOnly,
    });
  if (cache.kind === "gha") {
    const built = await ghaBuild(docker, req, log, {
      env: opts.env,
      signal: opts.signal,
      withCredentials: auth !== undefined,
      readOnly: opts.readOnly,
    });
    if (built) return built;
  }
  return buildWithEngine(docker, req, log, opts.signal);
}

/**
 * What a run that only reads its caches says, once: why (`reason`, from src/action/trust.ts) and what still
 * happens to each cache it has; undefined when it has none.
 */
export function readOnlyCachesNote(config: PreviewConfig, reason: string): string | undefined {
  const kept: string[] = [];
  if (config.cacheDirs.paths.length > 0) kept.push("cache-dirs are restored, never saved");
  const cache = config.source.kind === "build" ? config.source.cache : undefined;
  if (cache?.kind === "gha") kept.push("cache: gha layers are imported, never exported");
  if (cache?.kind === "registry") kept.push(`the build cache ${cache.ref} is pulled, never pushed`);
  if (kept.length === 0) return undefined;
  return `Caches are read-only in this run: ${reason}. So ${kept.join("; ")}.`;
}

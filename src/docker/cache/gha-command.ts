import { join } from "node:path";
import type { BuildRequest } from "../build.js";

/** Where a build reads and writes BuildKit's GitHub Actions cache. */
export interface GhaScopes {
  /** Imported in order: this branch's own cache first, then the base branch's. */
  readonly read: readonly string[];
  readonly write: string;
}

/**
 * One scope per workflow, preview name and branch. GitHub's cache service already lets a PR read its
 * base branch's entries and never write them; naming the branch in the scope keeps each branch's index
 * apart too, so a PR imports the base branch's layers but exports only under its own name. A scope is
 * one cache index: without the preview name, two previews of one PR would overwrite each other's.
 */
export function ghaScopes(env: NodeJS.ProcessEnv, previewName: string): GhaScopes {
  const scope = (branch: string) =>
    safe(`ml-preview-${env.GITHUB_WORKFLOW || "workflow"}-${previewName}-${branch}`);
  const head = env.GITHUB_HEAD_REF || env.GITHUB_REF_NAME || "local";
  const base = env.GITHUB_BASE_REF;
  const write = scope(head);
  return { read: base && scope(base) !== write ? [write, scope(base)] : [write], write };
}

/**
 * Why the GitHub Actions cache service cannot be used from this process, or undefined when it can.
 * The runner gives its runtime token and cache URL to JavaScript actions only (not to `run:` steps);
 * buildx reads them from its environment (ACTIONS_RESULTS_URL with ACTIONS_CACHE_SERVICE_V2 for the
 * v2 cache service), so they are passed through the environment and never on the command line.
 */
export function ghaEnvProblem(env: NodeJS.ProcessEnv): string | undefined {
  if (!env.ACTIONS_RUNTIME_TOKEN) return "ACTIONS_RUNTIME_TOKEN is not set";
  if (!env.ACTIONS_CACHE_URL && !env.ACTIONS_RESULTS_URL)
    return "neither ACTIONS_CACHE_URL nor ACTIONS_RESULTS_URL is set";
  return undefined;
}

/** The environment for buildx: ours, plus no default provenance attestations (`--load` cannot carry them). */
export function buildxEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined) out[key] = value;
  out.BUILDX_NO_DEFAULT_ATTESTATIONS = "1";
  return out;
}

/** `docker buildx build` arguments for a build that imports and exports the gha cache and loads the image. */
export function buildxBuildArgs(
  req: BuildRequest,
  scopes: GhaScopes,
  opts: { readonly builder?: string; readonly iidFile: string },
): string[] {
  return [
    "buildx",
    "build",
    ...(opts.builder ? ["--builder", opts.builder] : []),
    "--file",
    join(req.context, req.dockerfile),
    "--tag",
    req.tag,
    ...Object.entries(req.labels).flatMap(([k, v]) => ["--label", `${k}=${v}`]),
    ...Object.entries(req.buildArgs).flatMap(([k, v]) => ["--build-arg", `${k}=${v}`]),
    ...(req.target ? ["--target", req.target] : []),
    ...scopes.read.flatMap((scope) => ["--cache-from", `type=gha,scope=${scope}`]),
    // ignore-error: a cache that cannot be written must not fail the build it comes after.
    "--cache-to",
    `type=gha,mode=max,scope=${scopes.write},ignore-error=true`,
    "--iidfile",
    opts.iidFile,
    "--progress",
    "plain",
    "--load",
    req.context,
  ];
}

/** Scope text safe inside buildx's comma-separated `key=value` cache attributes. */
function safe(text: string): string {
  return text.replace(/[^A-Za-z0-9._-]+/g, "-").slice(0, 200);
}

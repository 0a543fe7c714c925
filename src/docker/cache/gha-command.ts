import { join } from "node:path";
import type { BuildRequest } from "../build.js";

/** Where a build reads and writes BuildKit's GitHub Actions cache. */
export interface GhaScopes {
  /** Imported in order: this run's own scope first, then the branch its PR is based on (or runs on). */
  readonly read: readonly string[];
  /** Exported to; undefined: nothing is exported (a read-only run, see src/action/trust.ts). */
  readonly write?: string;
}

/**
 * One scope per workflow, preview name and branch — or PR. A scope is one cache index: without the preview
 * name, two previews of one PR would overwrite each other's. A PR's run exports under its PR (`pr-<n>`),
 * never under a branch name: its head branch's name is the PR author's to choose (a fork may call it
 * `main`), and its own scope is the one its next run imports first. It imports the base branch's scope
 * after that. GitHub stores what a `pull_request` run writes in refs/pull/<n>/merge's cache, which no other
 * run reads, so a branch that happens to be called `pr-<n>` cannot meet it there. A run of a branch (push,
 * schedule, dispatch without a PR) reads and writes that branch's scope: the one its PRs import.
 * `readOnly` runs (code that is not their ref's own) import the same scopes and export nothing.
 */
export function ghaScopes(
  env: NodeJS.ProcessEnv,
  previewName: string,
  run: { readonly pr?: number; readonly readOnly?: boolean } = {},
): GhaScopes {
  const scope = (part: string) =>
    safe(`ml-preview-${env.GITHUB_WORKFLOW || "workflow"}-${previewName}-${part}`);
  const branch = scope(env.GITHUB_REF_NAME || "local");
  const own = run.pr === undefined ? branch : scope(`pr-${run.pr}`);
  // A pull_request(_target) run's branch is the base (GITHUB_REF_NAME is "<n>/merge" on pull_request).
  const base = env.GITHUB_BASE_REF ? scope(env.GITHUB_BASE_REF) : branch;
  const read = base === own ? [own] : [own, base];
  return run.readOnly ? { read } : { read, write: own };
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

/** `docker buildx build` arguments: import the gha cache, export it (unless read-only), load the image. */
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
    ...buildxSecrets(req).flatMap(([id, variable]) => ["--secret", `id=${id},env=${variable}`]),
    ...(req.target ? ["--target", req.target] : []),
    ...scopes.read.flatMap((scope) => ["--cache-from", `type=gha,scope=${scope}`]),
    // ignore-error: a cache that cannot be written must not fail the build it comes after.
    ...(scopes.write ? ["--cache-to", `type=gha,mode=max,scope=${scopes.write},ignore-error=true`] : []),
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

/**
 * Each build secret's id and the variable of buildx's environment that carries its value
 * (`--secret id=<id>,env=<variable>`): the value is never on the command line, where `ps` would show it.
 */
export function buildxSecrets(req: Pick<BuildRequest, "secrets">): [id: string, variable: string][] {
  return Object.keys(req.secrets ?? {}).map((id, i) => [id, `ML_PREVIEW_BUILD_SECRET_${i}`]);
}

/** The environment entries buildxSecrets names, with the values. */
export function buildxSecretEnv(req: Pick<BuildRequest, "secrets">): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [id, variable] of buildxSecrets(req)) env[variable] = req.secrets?.[id] ?? "";
  return env;
}

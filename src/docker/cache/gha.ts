import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getExecOutput } from "@actions/exec";
import type Docker from "dockerode";
import { PreviewError } from "../../errors.js";
import type { Logger } from "../../log.js";
import { type BuildRequest, type BuildResult, buildSummary } from "../build.js";
import { buildError } from "../build-errors.js";
import { checkSessionContext } from "../context.js";
import { LineSplitter } from "../json-events.js";
import { localImageId } from "../pull.js";
import { labelledPr } from "../types.js";
import { BuildxProgress } from "./buildx-progress.js";
import { buildxBuildArgs, buildxEnv, buildxSecretEnv, ghaEnvProblem, ghaScopes } from "./gha-command.js";

/** The name prefix of the docker-container builder we create when the current builder's driver cannot export a cache. */
export const CACHE_BUILDER = "ml-preview-cache";

/**
 * Builds with `docker buildx build` and BuildKit's GitHub Actions cache, then `--load`s the image into
 * the engine so it runs through dockerode like any other. Returns undefined, after exactly one warning,
 * when the cache cannot be used (no cache service, no buildx, no usable builder, buildx failing before
 * the Dockerfile): the caller then builds through the engine as usual — a cache problem never fails a
 * preview. A Dockerfile that fails throws the build error; the signal stops buildx (CANCELLED).
 */
export async function ghaBuild(
  docker: Docker,
  req: BuildRequest,
  log: Logger,
  opts: {
    readonly env?: NodeJS.ProcessEnv;
    readonly signal?: AbortSignal;
    readonly withCredentials?: boolean;
    /** Import the cache, never export it (src/action/trust.ts). */
    readonly readOnly?: boolean;
  } = {},
): Promise<BuildResult | undefined> {
  const { env = process.env, signal, withCredentials = false, readOnly = false } = opts;
  const fallback = (why: string): undefined => {
    log.warning(
      `cache: gha is not used for this build: ${why}. Building without it (the engine's own layer cache only).`,
    );
    return undefined;
  };
  const ready = await ghaReady(req, env, log);
  if ("problem" in ready) return fallback(ready.problem);
  const { builder, childEnv } = ready;

  const dir = await mkdtemp(join(tmpdir(), "ml-preview-buildx-"));
  try {
    const scopes = ghaScopes(env, req.labels["ml-preview.name"] || "app", {
      pr: labelledPr(req.labels),
      readOnly,
    });
    const args = buildxBuildArgs(req, scopes, {
      builder: builder.name,
      iidFile: join(dir, "iid"),
    });
    // Build-arg values may be tokens (HF_TOKEN=…): show their names only.
    log.info(
      `docker ${args.map((a, i) => (args[i - 1] === "--build-arg" ? a.replace(/=.*/s, "=***") : a)).join(" ")}`,
    );
    const progress = new BuildxProgress();
    const started = Date.now();
    const run = await buildx(args, { ...childEnv, ...buildxSecretEnv(req) }, progress, log, signal);
    if (signal?.aborted) throw cancelled(signal.reason);
    if ("startError" in run) return fallback(`docker buildx build could not start (${run.startError})`);
    // The Dockerfile failed (BuildKit says "failed to solve"): that is the build's error, reported once.
    // Building it again through the engine would fail the same way and blame the cache.
    if (progress.failure)
      throw buildError({
        ...progress.failure,
        dockerfile: req.dockerfile,
        withCredentials,
        secretIds: Object.keys(req.secrets ?? {}),
      });
    if (run.code !== 0)
      return fallback(
        `docker buildx build failed (exit code ${run.code}): ${progress.tail.slice(-3).join(" | ")}`,
      );
    const imageId = await builtImageId(docker, req.tag);
    if (!imageId) return fallback(`docker buildx build did not load ${req.tag} into the Docker engine`);
    const result: BuildResult = {
      imageId,
      buildMs: Date.now() - started,
      cachedSteps: progress.cachedSteps,
      totalSteps: progress.totalSteps,
      builder: "buildkit",
      contextBytes: 0,
    };
    log.info(buildSummary(req.tag, { ...result, contextBytes: undefined }));
    return result;
  } finally {
    await rm(dir, { recursive: true, force: true });
    // Our builder is a container (moby/buildkit) on the engine: nothing of a preview stays behind.
    if (builder.name) await removeBuilder(builder.name, childEnv, log);
  }
}

/** What a gha build needs before it starts (the cache service, a clean context, buildx, our builder), or why not. */
async function ghaReady(
  req: BuildRequest,
  env: NodeJS.ProcessEnv,
  log: Logger,
): Promise<{ problem: string } | { builder: { name?: string }; childEnv: Record<string, string> }> {
  const envProblem = ghaEnvProblem(env);
  if (envProblem)
    return {
      problem: `${envProblem} (GitHub gives the cache service's token and URL to JavaScript actions only: run ml-preview as an action step)`,
    };
  const credentials = await contextCredentials(req);
  if (credentials) return { problem: credentials };
  const childEnv = buildxEnv(env);
  const version = await dockerCli(["buildx", "version"], childEnv);
  if (version.exitCode !== 0)
    return {
      problem: `docker buildx is not available (${lastLine(version)}); add docker/setup-buildx-action before this step, or use cache: registry:<ref>`,
    };
  const builder = await cacheBuilder(childEnv, log);
  if (builder.problem) return { problem: builder.problem };
  return { builder, childEnv };
}

/**
 * Why buildx must not send this context: a git config in it holds a credential (context-credentials.ts).
 * buildx sends the context itself, as it is on disk; the engine's builds leave the credential out.
 */
async function contextCredentials(req: BuildRequest): Promise<string | undefined> {
  const { credentials } = await checkSessionContext(req.context, req.dockerfile);
  if (credentials.length === 0) return undefined;
  return (
    `the build context's ${credentials.join(", ")} holds a git credential (actions/checkout's http.extraheader), ` +
    "which docker buildx would send into the build as it is: the engine's build leaves it out. To use the cache, " +
    "set persist-credentials: false on actions/checkout, or list .git in .dockerignore"
  );
}

/** Runs `docker buildx build`, its output into `progress` and the log; the signal stops it. */
function buildx(
  args: string[],
  env: Record<string, string>,
  progress: BuildxProgress,
  log: Logger,
  signal: AbortSignal | undefined,
): Promise<{ code: number } | { startError: string }> {
  return new Promise((resolve) => {
    const child = spawn("docker", args, { env, signal, stdio: ["ignore", "pipe", "pipe"] });
    const pipe = (stream: NodeJS.ReadableStream, onLine: (line: string) => void) => {
      const lines = new LineSplitter();
      stream.setEncoding("utf8");
      stream.on("data", (chunk: string) => lines.push(chunk).forEach(onLine));
      stream.on("end", () => lines.end().forEach(onLine));
    };
    // buildx writes its progress to stderr.
    pipe(child.stderr, (line) => {
      progress.push(line);
      log.info(line);
    });
    pipe(child.stdout, (line) => log.info(line));
    let startError: string | undefined;
    child.on("error", (err) => {
      startError = err.message;
    });
    child.on("close", (code) => resolve(startError && code === null ? { startError } : { code: code ?? -1 }));
  });
}

/** The built image's id; an engine that cannot answer fails the build step (the image came from a build). */
async function builtImageId(docker: Docker, tag: string): Promise<string | undefined> {
  try {
    return await localImageId(docker, tag);
  } catch (err) {
    if (err instanceof PreviewError)
      throw new PreviewError("build", err.message, { code: err.code, cause: err });
    throw err;
  }
}

function cancelled(cause: unknown): PreviewError {
  return new PreviewError("build", "The build was cancelled.", { code: "CANCELLED", cause });
}

async function removeBuilder(name: string, env: Record<string, string>, log: Logger): Promise<void> {
  const removed = await dockerCli(["buildx", "rm", "--force", name], env);
  if (removed.exitCode === 0) log.debug(`Removed the buildx builder ${name}.`);
  else
    log.warning(
      `Could not remove the buildx builder ${name} (${lastLine(removed)}): remove it with docker buildx rm ${name}.`,
    );
}

/**
 * The builder to use: the current one unless its driver is `docker`, which cannot export a gha cache
 * (without the containerd image store); then our own docker-container builder, removed after the build.
 */
async function cacheBuilder(
  env: Record<string, string>,
  log: Logger,
): Promise<{ name?: string; problem?: string }> {
  const current = await dockerCli(["buildx", "inspect"], env);
  const driver = /^Driver:\s*(\S+)/m.exec(current.stdout)?.[1];
  if (current.exitCode === 0 && driver && driver !== "docker") return {};
  // One builder per build: another preview on this engine may be removing its own at the same time.
  const name = `${CACHE_BUILDER}-${randomBytes(4).toString("hex")}`;
  log.info(
    `The current buildx builder (driver ${driver ?? "unknown"}) cannot export a cache: creating ${name}.`,
  );
  const created = await dockerCli(["buildx", "create", "--name", name, "--driver", "docker-container"], env);
  if (created.exitCode !== 0) {
    return { problem: `could not create a docker-container buildx builder (${lastLine(created)})` };
  }
  return { name };
}

/** Runs the docker CLI quietly; a missing `docker` executable reads as exit code 127. */
async function dockerCli(args: string[], env: Record<string, string>) {
  try {
    return await getExecOutput("docker", args, { env, silent: true, ignoreReturnCode: true });
  } catch (err) {
    return { exitCode: 127, stdout: "", stderr: (err as Error).message };
  }
}

function lastLine(out: { stdout: string; stderr: string }): string {
  const lines = `${out.stderr}\n${out.stdout}`.split("\n").filter((l) => l.trim() !== "");
  return lines[lines.length - 1]?.trim() ?? "no output";
}

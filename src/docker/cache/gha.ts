import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exec, getExecOutput } from "@actions/exec";
import type Docker from "dockerode";
import type { Logger } from "../../log.js";
import { type BuildRequest, type BuildResult, buildSummary } from "../build.js";
import { localImageId } from "../pull.js";
import { BuildxProgress } from "./buildx-progress.js";
import { buildxBuildArgs, buildxEnv, ghaEnvProblem, ghaScopes } from "./gha-command.js";

/** The docker-container builder we create when the current builder's driver cannot export a cache. */
export const CACHE_BUILDER = "ml-preview-cache";

/**
 * Builds with `docker buildx build` and BuildKit's GitHub Actions cache, then `--load`s the image into
 * the engine so it runs through dockerode like any other. Returns undefined, after exactly one warning,
 * when the cache cannot be used (no cache service, no buildx, no usable builder, a failed buildx build):
 * the caller then builds through the engine as usual — a cache problem never fails a preview.
 */
export async function ghaBuild(
  docker: Docker,
  req: BuildRequest,
  log: Logger,
  env: NodeJS.ProcessEnv = process.env,
): Promise<BuildResult | undefined> {
  const fallback = (why: string): undefined => {
    log.warning(
      `cache: gha is not used for this build: ${why}. Building without it (the engine's own layer cache only).`,
    );
    return undefined;
  };
  const envProblem = ghaEnvProblem(env);
  if (envProblem) {
    return fallback(
      `${envProblem} (GitHub gives the cache service's token and URL to JavaScript actions only: run ml-preview as an action step)`,
    );
  }
  const childEnv = buildxEnv(env);
  const version = await dockerCli(["buildx", "version"], childEnv);
  if (version.exitCode !== 0) {
    return fallback(
      `docker buildx is not available (${lastLine(version)}); add docker/setup-buildx-action before this step, or use cache: registry:<ref>`,
    );
  }
  const builder = await cacheBuilder(childEnv, log);
  if (builder.problem) return fallback(builder.problem);

  const dir = await mkdtemp(join(tmpdir(), "ml-preview-buildx-"));
  try {
    const args = buildxBuildArgs(req, ghaScopes(env, req.labels["ml-preview.name"] || "app"), {
      builder: builder.name,
      iidFile: join(dir, "iid"),
    });
    // Build-arg values may be tokens (HF_TOKEN=…): show their names only.
    log.info(
      `docker ${args.map((a, i) => (args[i - 1] === "--build-arg" ? a.replace(/=.*/s, "=***") : a)).join(" ")}`,
    );
    const progress = new BuildxProgress();
    const started = Date.now();
    let code: number;
    try {
      code = await exec("docker", args, {
        env: childEnv,
        silent: true,
        ignoreReturnCode: true,
        listeners: {
          // buildx writes its progress to stderr.
          errline: (line) => {
            progress.push(line);
            log.info(line);
          },
          stdline: (line) => log.info(line),
        },
      });
    } catch (err) {
      return fallback(`docker buildx build could not start (${(err as Error).message})`);
    }
    if (code !== 0)
      return fallback(
        `docker buildx build failed (exit code ${code}): ${progress.tail.slice(-3).join(" | ")}`,
      );
    const imageId = await localImageId(docker, req.tag);
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
  }
}

/**
 * The builder to use: the current one unless its driver is `docker`, which cannot export a gha cache
 * (without the containerd image store); then our own docker-container builder, created once per engine.
 */
async function cacheBuilder(
  env: Record<string, string>,
  log: Logger,
): Promise<{ name?: string; problem?: string }> {
  const current = await dockerCli(["buildx", "inspect"], env);
  const driver = /^Driver:\s*(\S+)/m.exec(current.stdout)?.[1];
  if (current.exitCode === 0 && driver && driver !== "docker") return {};
  const ours = await dockerCli(["buildx", "inspect", CACHE_BUILDER], env);
  if (ours.exitCode === 0) return { name: CACHE_BUILDER };
  log.info(
    `The current buildx builder (driver ${driver ?? "unknown"}) cannot export a cache: creating ${CACHE_BUILDER}.`,
  );
  const created = await dockerCli(
    ["buildx", "create", "--name", CACHE_BUILDER, "--driver", "docker-container"],
    env,
  );
  if (created.exitCode !== 0) {
    return { problem: `could not create a docker-container buildx builder (${lastLine(created)})` };
  }
  return { name: CACHE_BUILDER };
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

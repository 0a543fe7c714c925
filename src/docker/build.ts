import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import type Docker from "dockerode";
import type { RegistryAuth } from "../config/types.js";
import { PreviewError } from "../errors.js";
import type { Logger } from "../log.js";
import { buildError } from "./build-errors.js";
import { BuildProgress } from "./build-progress.js";
import { type Builder, chooseBuilder } from "./builder-choice.js";
import { type ContextStream, createContextStream } from "./context.js";
import { readEvents } from "./json-events.js";
import { engineMessage } from "./registry-errors.js";
import type { PreviewLabels } from "./types.js";

export interface BuildRequest {
  /** Absolute path of the build context. */
  readonly context: string;
  /** Relative to `context`, POSIX separators. */
  readonly dockerfile: string;
  readonly buildArgs: Readonly<Record<string, string>>;
  readonly target?: string;
  readonly tag: string;
  readonly labels: PreviewLabels;
  /** Local images whose layers the classic builder may reuse (the registry cache, pulled first). */
  readonly cacheFrom?: readonly string[];
  /** Credentials for one registry (a private base image, the cache image), sent as X-Registry-Config. */
  readonly credentials?: { readonly server: string; readonly auth: RegistryAuth };
  /** Defaults to what the Dockerfile needs (see builder-choice.ts). */
  readonly builder?: Builder;
  /** Ignore the engine's layer cache (cold-build measurements). */
  readonly noCache?: boolean;
}

export interface BuildResult {
  readonly imageId: string;
  readonly buildMs: number;
  readonly cachedSteps: number;
  readonly totalSteps: number;
  readonly builder: Builder;
  /** Bytes of build context uploaded to the engine. */
  readonly contextBytes: number;
}

/** Builds through the engine's API (dockerode), progress into `log`, failures from the event stream. */
export async function buildWithEngine(
  docker: Docker,
  req: BuildRequest,
  log: Logger,
  signal?: AbortSignal,
): Promise<BuildResult> {
  const started = Date.now();
  const context = await createContextStream(req.context, req.dockerfile);
  const builder = req.builder ?? chooseBuilder(await readFile(join(req.context, req.dockerfile), "utf8"));
  if (builder === "buildkit") log.info("The Dockerfile uses BuildKit-only syntax: building with BuildKit.");
  const labelSteps = builder === "classic" ? Object.keys(req.labels).length : 0;
  const progress = new BuildProgress((line) => log.info(line), labelSteps);
  try {
    const events = await startBuild(docker, context, req, builder, signal);
    await readEvents(events, (event) => progress.push(event));
  } catch (err) {
    throw requestError(err, req, context, signal);
  } finally {
    (context.stream as Readable).destroy();
  }
  progress.end();
  if (progress.error) {
    const contextFailure = context.readError();
    if (contextFailure) throw contextError(contextFailure);
    throw buildError({
      message: progress.error,
      step: progress.failedStep,
      dockerfile: req.dockerfile,
      withCredentials: req.credentials !== undefined,
    });
  }
  const imageId = progress.imageId ?? (await docker.getImage(req.tag).inspect()).Id;
  const result: BuildResult = {
    imageId,
    buildMs: Date.now() - started,
    cachedSteps: progress.cachedSteps,
    totalSteps: progress.totalSteps,
    builder,
    contextBytes: context.sentBytes(),
  };
  log.info(buildSummary(req.tag, result));
  return result;
}

export function buildSummary(tag: string, r: Omit<BuildResult, "imageId" | "contextBytes"> & { contextBytes?: number }) {
  const sent = r.contextBytes === undefined ? "" : `, ${(r.contextBytes / 1e6).toFixed(1)} MB of context sent`;
  return (
    `Built ${tag} in ${(r.buildMs / 1000).toFixed(1)} s (${r.builder}): ` +
    `${r.cachedSteps} of ${r.totalSteps} steps from cache${sent}.`
  );
}

function startBuild(
  docker: Docker,
  context: ContextStream,
  req: BuildRequest,
  builder: Builder,
  signal?: AbortSignal,
): Promise<NodeJS.ReadableStream> {
  const options: Record<string, unknown> = {
    t: req.tag,
    dockerfile: req.dockerfile,
    buildargs: { ...req.buildArgs },
    labels: { ...req.labels },
    // Intermediate containers carry no labels of ours, so none may outlive a failed step.
    rm: true,
    forcerm: true,
  };
  if (req.target) options.target = req.target;
  if (req.noCache) options.nocache = true;
  if (req.cacheFrom?.length) options.cachefrom = JSON.stringify(req.cacheFrom);
  const registryconfig = req.credentials
    ? { [req.credentials.server]: { username: req.credentials.auth.username, password: req.credentials.auth.password } }
    : undefined;
  if (builder === "classic") {
    return docker.buildImage(context.stream, { ...options, version: "1", registryconfig, abortSignal: signal });
  }
  // BuildKit without dockerode's /session (see builder-choice.ts): a plain POST /build?version=2.
  return new Promise((resolve, reject) => {
    docker.modem.dial(
      {
        path: "/build?",
        method: "POST",
        file: context.stream,
        options: { ...options, version: "2" },
        headers: { Connection: "close" },
        registryconfig,
        isStream: true,
        abortSignal: signal,
        statusCodes: { 200: true, 400: "bad parameter", 500: "server error" },
      },
      (err, res) => (err ? reject(err) : resolve(res as NodeJS.ReadableStream)),
    );
  });
}

function requestError(err: unknown, req: BuildRequest, context: ContextStream, signal?: AbortSignal): PreviewError {
  if (err instanceof PreviewError) return err;
  if (signal?.aborted) return new PreviewError("build", "The build was cancelled.", { code: "CANCELLED", cause: err });
  const contextFailure = context.readError();
  if (contextFailure) return contextError(contextFailure);
  return new PreviewError(
    "build",
    `The Docker engine rejected the build of ${req.dockerfile}: ${engineMessage(err)}. Check the Dockerfile and the build-args/target inputs.`,
    { code: "DOCKER_BUILD_FAILED", cause: err },
  );
}

function contextError(err: Error): PreviewError {
  return new PreviewError(
    "build",
    `Could not read the build context: ${err.message}. Make the file readable, or list it in .dockerignore.`,
    { code: "DOCKER_CONTEXT", cause: err },
  );
}

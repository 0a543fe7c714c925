import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import type Docker from "dockerode";
import type { RegistryAuth } from "../config/types.js";
import type { Logger } from "../log.js";
import { buildError, contextError, requestError } from "./build-errors.js";
import { BuildProgress } from "./build-progress.js";
import { openBuildSession } from "./build-session.js";
import { type BuildInput, startBuild } from "./build-start.js";
import { type Builder, builderFor } from "./builder-choice.js";
import { checkSessionContext, createContextStream } from "./context.js";
import { credentialNote } from "./context-credentials.js";
import { readEngineStream } from "./json-events.js";
import type { ImageLabels } from "./types.js";

export interface BuildRequest {
  /** Absolute path of the build context. */
  readonly context: string;
  /** Relative to `context`, POSIX separators. */
  readonly dockerfile: string;
  readonly buildArgs: Readonly<Record<string, string>>;
  /**
   * `build-secrets`: id → value, for `RUN --mount=type=secret,id=<id>` (BuildKit's session serves them;
   * they never reach the image, its history or the build's query). Any secret makes the build BuildKit's.
   */
  readonly secrets?: Readonly<Record<string, string>>;
  readonly target?: string;
  readonly tag: string;
  readonly labels: ImageLabels;
  /** Local images whose layers the classic builder may reuse (the registry cache, pulled first). */
  readonly cacheFrom?: readonly string[];
  /** Credentials for one registry (a private base image, the cache image): X-Registry-Config, or BuildKit's session. */
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
  const builder = builderFor(req, await readDockerfile(join(req.context, req.dockerfile)));
  // A context that fails mid-upload ends the request at once: the engine would otherwise wait for the
  // rest of a body (or of a transfer) that never comes.
  const unsendable = new AbortController();
  const context =
    builder === "classic" ? await tarContext(req, unsendable) : await sessionContext(docker, req, unsendable);
  if (context.credentialsLeftOut.length > 0) log.info(credentialNote(context.credentialsLeftOut));
  if (builder === "buildkit")
    log.info(
      Object.keys(req.secrets ?? {}).length > 0
        ? "build-secrets are set: building with BuildKit, which mounts them for RUN --mount=type=secret."
        : "The Dockerfile uses BuildKit-only syntax: building with BuildKit.",
    );
  const labelSteps = builder === "classic" ? Object.keys(req.labels).length : 0;
  const progress = new BuildProgress((line) => log.info(line), labelSteps);
  const requestSignal = signal ? AbortSignal.any([signal, unsendable.signal]) : unsendable.signal;
  try {
    const events = await startBuild(docker, context.input, req, requestSignal);
    await readEngineStream(events, (event) => progress.push(event));
  } catch (err) {
    throw requestError(err, req.dockerfile, signal?.aborted === true, context.readError());
  } finally {
    context.close();
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
      secretIds: Object.keys(req.secrets ?? {}),
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

/** The build's context as the builder takes it, and what it says about the sending. */
interface BuildContext {
  readonly input: BuildInput;
  /** Git config files sent without their credential (context-credentials.ts). */
  readonly credentialsLeftOut: readonly string[];
  sentBytes(): number;
  readError(): Error | undefined;
  close(): void;
}

/** The classic builder's: a tar in the request body. */
async function tarContext(req: BuildRequest, unsendable: AbortController): Promise<BuildContext> {
  const context = await createContextStream(req.context, req.dockerfile);
  const tar = context.stream as Readable;
  tar.once("error", () => unsendable.abort());
  return {
    input: { builder: "classic", tar },
    credentialsLeftOut: context.credentialsLeftOut,
    sentBytes: () => context.sentBytes(),
    readError: () => context.readError(),
    close: () => tar.destroy(),
  };
}

/** BuildKit's: a session the engine pulls the context through (checked first, as the tar is). */
async function sessionContext(
  docker: Docker,
  req: BuildRequest,
  unsendable: AbortController,
): Promise<BuildContext> {
  const { root, dockerfile, credentials } = await checkSessionContext(req.context, req.dockerfile);
  const c = req.credentials;
  const session = await openBuildSession(docker, {
    context: root,
    dockerfile,
    credentials: c && { server: c.server, username: c.auth.username, secret: c.auth.password },
    secrets: req.secrets,
    onFailure: () => unsendable.abort(),
  }).catch((err: unknown) => {
    throw requestError(err, req.dockerfile, false);
  });
  return {
    input: { builder: "buildkit", session: session.id },
    credentialsLeftOut: credentials,
    sentBytes: () => session.sentBytes(),
    readError: () => session.readError(),
    close: () => session.close(),
  };
}

/** The Dockerfile's text, or "" when it is no regular file (createContextStream then says what is wrong). */
async function readDockerfile(path: string): Promise<string> {
  // A FIFO would block the read forever: only a regular file is read.
  const isFile = await stat(path).then(
    (s) => s.isFile(),
    () => false,
  );
  return isFile ? readFile(path, "utf8") : "";
}

export function buildSummary(
  tag: string,
  r: Omit<BuildResult, "imageId" | "contextBytes"> & { contextBytes?: number },
) {
  const sent =
    r.contextBytes === undefined ? "" : `, ${(r.contextBytes / 1e6).toFixed(1)} MB of context sent`;
  return (
    `Built ${tag} in ${(r.buildMs / 1000).toFixed(1)} s (${r.builder}): ` +
    `${r.cachedSteps} of ${r.totalSteps} steps from cache${sent}.`
  );
}

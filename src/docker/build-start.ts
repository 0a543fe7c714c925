import { randomUUID } from "node:crypto";
import { posix } from "node:path";
import type Docker from "dockerode";
import type { BuildRequest } from "./build.js";

/** The /build query for a request (docker-modem JSON-encodes the object values). */
export function buildQuery(req: BuildRequest): Record<string, unknown> {
  const query: Record<string, unknown> = {
    t: req.tag,
    dockerfile: req.dockerfile,
    buildargs: { ...req.buildArgs },
    labels: { ...req.labels },
    // Intermediate containers carry no labels of ours, so none may outlive a failed step.
    rm: true,
    forcerm: true,
  };
  if (req.target) query.target = req.target;
  if (req.noCache) query.nocache = true;
  if (req.cacheFrom?.length) query.cachefrom = JSON.stringify(req.cacheFrom);
  return query;
}

/** What the build reads its context from: the classic builder's tar, or BuildKit's session. */
export type BuildInput =
  | { readonly builder: "classic"; readonly tar: NodeJS.ReadableStream }
  | { readonly builder: "buildkit"; readonly session: string };

/** Starts a build on the engine; resolves with its event stream once the engine accepts it. */
export function startBuild(
  docker: Docker,
  input: BuildInput,
  req: BuildRequest,
  signal?: AbortSignal,
): Promise<NodeJS.ReadableStream> {
  const query = buildQuery(req);
  if (input.builder === "classic") {
    const registryconfig = req.credentials
      ? {
          [req.credentials.server]: {
            username: req.credentials.auth.username,
            password: req.credentials.auth.password,
          },
        }
      : undefined;
    return docker.buildImage(input.tar, { ...query, version: "1", registryconfig, abortSignal: signal });
  }
  // As the docker CLI starts a BuildKit build: no body, the context (and the Dockerfile's dir) pulled
  // through the session, credentials asked for through it too. A cancel reaches BuildKit twice: the
  // request ends, and POST /build/cancel names the build (what the CLI sends on Ctrl-C).
  const buildid = randomUUID();
  signal?.addEventListener("abort", () => cancelBuild(docker, buildid), { once: true });
  return new Promise((resolve, reject) => {
    docker.modem.dial(
      {
        path: "/build?",
        method: "POST",
        file: Buffer.alloc(0),
        options: {
          ...query,
          dockerfile: posix.basename(req.dockerfile),
          version: "2",
          remote: "client-session",
          session: input.session,
          buildid,
        },
        // docker-modem#196: keep-alive BuildKit requests can hang.
        headers: { Connection: "close", "Content-Type": "application/x-tar" },
        isStream: true,
        abortSignal: signal,
        statusCodes: { 200: true, 400: "bad parameter", 500: "server error" },
      },
      (err, res) => (err ? reject(err) : resolve(res as NodeJS.ReadableStream)),
    );
  });
}

function cancelBuild(docker: Docker, id: string): void {
  docker.modem.dial(
    {
      path: "/build/cancel?",
      method: "POST",
      options: { id },
      statusCodes: { 200: true, 404: true, 500: true },
    },
    () => undefined,
  );
}

import type Docker from "dockerode";
import type { BuildRequest } from "./build.js";
import type { Builder } from "./builder-choice.js";

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

/** Starts a build on the engine; resolves with its event stream once the engine accepts it. */
export function startBuild(
  docker: Docker,
  context: NodeJS.ReadableStream,
  req: BuildRequest,
  builder: Builder,
  signal?: AbortSignal,
): Promise<NodeJS.ReadableStream> {
  const query = buildQuery(req);
  const registryconfig = req.credentials
    ? {
        [req.credentials.server]: {
          username: req.credentials.auth.username,
          password: req.credentials.auth.password,
        },
      }
    : undefined;
  if (builder === "classic") {
    return docker.buildImage(context, { ...query, version: "1", registryconfig, abortSignal: signal });
  }
  // BuildKit without dockerode's /session (see builder-choice.ts): a plain POST /build?version=2.
  return new Promise((resolve, reject) => {
    docker.modem.dial(
      {
        path: "/build?",
        method: "POST",
        file: context,
        options: { ...query, version: "2" },
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

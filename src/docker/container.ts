import type Docker from "dockerode";
import { PreviewError } from "../errors.js";
import type { ContainerExit, PreparedImage } from "../lifecycle/types.js";
import type { Logger } from "../log.js";
import { secretScrubber } from "../scrub.js";
import { engineMessage } from "./docker-errors.js";
import { watchExit } from "./exit.js";
import { reachableEnv } from "./framework.js";
import { containerSpec, type VolumeMount } from "./host-config.js";
import { attachLogs, LogRing, refillFromEngine } from "./logs.js";
import { type AppNetwork, createAppNetwork, removeNetwork } from "./network.js";
import { exposedTcpPorts, type ResolvedPort, resolveContainerPort } from "./ports.js";
import { stopAndRemove } from "./remove.js";
import { thisHolder } from "./sweep.js";
import type { AppContainer, EnginePatience, PreviewLabels, RunOptions } from "./types.js";

/** After the exit, how long to wait for the last output to arrive before reporting it. */
const LOG_DRAIN_MS = 500;

/**
 * Creates the app's network and container, attaches to its output, then starts it (in that order, so the
 * first lines are never lost and nothing is auto-removed under us). The port is published on 127.0.0.1
 * only, on a host port Docker picks. On any failure the container and network are removed again and a
 * PreviewError(step "run") is thrown. An app that crashes at once is not an error here: `exited` resolves
 * and waitUntilReady reports it with the exit code and logs (hostPort is then 0, as there is no port any
 * more).
 */
export async function startContainer(
  docker: Docker,
  image: PreparedImage,
  opts: RunOptions & { readonly volumes?: readonly VolumeMount[] },
  labels: PreviewLabels,
  log: Logger,
): Promise<AppContainer> {
  const scrub = secretScrubber(opts.secrets);
  const [config, logDriver] = await Promise.all([
    inspectImageConfig(docker, image),
    docker.info().then(
      (info: { LoggingDriver?: string }) => info.LoggingDriver,
      () => undefined,
    ),
  ]);
  const port = resolveContainerPort({
    requested: opts.port,
    exposedPorts: config.ExposedPorts,
    launch: {
      entrypoint: config.Entrypoint,
      cmd: opts.command ?? config.Cmd,
      env: [...(config.Env ?? []), ...Object.entries(opts.env).map(([k, v]) => `${k}=${v}`)],
    },
  });
  log.info(`Container port ${port.port} (${describePort(port)}).`);
  const exposed = exposedTcpPorts(config.ExposedPorts);
  if (port.source === "input" && exposed.length > 0 && !exposed.includes(port.port)) {
    log.warning(
      `The image EXPOSEs ${exposed.join(", ")} but the preview waits on port ${port.port} . If the app listens on ${exposed[0]}, set the \`port\` input to ${exposed[0]} (CLI: \`--port ${exposed[0]}\`).`,
    );
  }
  const defaults = reachableEnv(config.Env, opts.env);
  for (const [k, v] of Object.entries(defaults))
    log.debug(`Set ${k}=${v} (see "Listening on 0.0.0.0" in the README).`);
  // Env values are secrets: only the names are ever logged.
  if (Object.keys(opts.env).length > 0)
    log.info(`Environment: ${Object.keys(opts.env).join(", ")} (values masked).`);

  const holder = thisHolder();
  const network = await createAppNetwork(docker, labels, holder);
  const spec = containerSpec({
    imageId: image.imageId,
    containerPort: port.port,
    env: { ...defaults, ...opts.env },
    command: opts.command,
    resources: opts.resources,
    labels,
    network: network.name,
    volumes: opts.volumes,
    holder,
    logDriver,
  });
  const container = await docker.createContainer(spec).catch(async (err: unknown) => {
    await removeNetwork(docker, network).catch(() => undefined);
    throw runError(err, scrub);
  });
  const ring = new LogRing(opts.secrets);
  try {
    const { ended } = await attachLogs(docker, container, ring);
    await container.start();
    const hostPort = await publishedPort(container, port.port);
    // After an engine outage the attach stream is gone: attach again. Once the app stopped, its last lines
    // come from the engine's own copy (it may have printed them while nobody was attached).
    const rearm = () => void attachLogs(docker, container, ring).catch(() => undefined);
    const exited = watchExit(container, { onRearm: rearm }).then(async (exit): Promise<ContainerExit> => {
      await Promise.race([ended, new Promise((r) => setTimeout(r, LOG_DRAIN_MS))]);
      await refillFromEngine(docker, container, ring).catch(() => undefined);
      return exit;
    });
    log.info(`Started container ${container.id.slice(0, 12)} on http://127.0.0.1:${hostPort}.`);
    const remove = (patience?: EnginePatience) => removeApp(docker, container, network, patience);
    return appContainer(container, remove, port.port, hostPort, exited, ring);
  } catch (err) {
    await removeApp(docker, container, network).catch(() => undefined);
    throw runError(err, scrub);
  }
}

/**
 * The container, then its network (a network cannot go while a container is attached). When the container
 * cannot be removed, that is the error: the network left with it is named in the same breath, never
 * reported instead. Each gets the patience for an engine that does not answer (the network's wait only
 * starts once the engine answered for the container).
 */
async function removeApp(
  docker: Docker,
  container: Docker.Container,
  network: AppNetwork,
  patience: EnginePatience = { patienceMs: 0 },
): Promise<void> {
  try {
    await stopAndRemove(container, undefined, patience);
  } catch (err) {
    if (err instanceof PreviewError)
      err.message += ` Then remove its network: \`docker network rm ${network.name}\`.`;
    throw err;
  }
  await removeNetwork(docker, network, patience);
}

function appContainer(
  container: Docker.Container,
  remove: (patience?: EnginePatience) => Promise<void>,
  containerPort: number,
  hostPort: number,
  exited: Promise<ContainerExit>,
  ring: LogRing,
): AppContainer {
  let removal: Promise<void> | undefined;
  return {
    id: container.id,
    containerPort,
    hostPort,
    localUrl: `http://127.0.0.1:${hostPort}`,
    exited,
    tail: async (n) => ring.tail(n),
    onLogLine: (listener) => ring.onLine(listener),
    // Memoised: a second call (finally + signal handler) waits for the first instead of racing it.
    remove: (patience) => {
      removal ??= remove(patience);
      return removal;
    },
  };
}

async function inspectImageConfig(docker: Docker, image: PreparedImage) {
  try {
    const info = await docker.getImage(image.imageId).inspect();
    return info.Config;
  } catch (err) {
    throw new PreviewError(
      "run",
      `Cannot inspect image ${image.ref} (${image.imageId.slice(0, 19)}): ${(err as Error).message}. ` +
        "Run the preview again so it is built or pulled afresh.",
      { code: "IMAGE_MISSING", cause: err },
    );
  }
}

/** The host port Docker chose; 0 when the app already stopped (its port is unpublished on exit). */
async function publishedPort(container: Docker.Container, containerPort: number): Promise<number> {
  const info = await container.inspect();
  const binding = info.NetworkSettings.Ports?.[`${containerPort}/tcp`]?.find((b) => b.HostIp === "127.0.0.1");
  if (binding) return Number(binding.HostPort);
  if (!info.State.Running) return 0;
  throw new PreviewError("run", `Docker did not publish container port ${containerPort} on 127.0.0.1.`, {
    code: "PORT_NOT_PUBLISHED",
  });
}

function describePort(port: ResolvedPort): string {
  switch (port.source) {
    case "input":
      return "from the `port` input";
    case "expose":
      return "the image's EXPOSEd port";
    case "framework":
      return `${port.framework}'s port; set \`port\` if the app listens elsewhere`;
  }
}

/** Engine messages we can turn into advice, first match wins. */
const ADVICE: readonly [RegExp, string][] = [
  [
    /could not select device driver .*capabilities: \[\[gpu\]\]/i,
    "This Docker host has no GPU runtime (NVIDIA Container Toolkit). Remove `gpus`, or run on a runner with GPUs.",
  ],
  [/Minimum memory limit allowed is/i, "The `memory` limit is too low for Docker: raise it (e.g. `512m`)."],
  [/Range of CPUs is from/i, "The `cpus` limit is more than this Docker host has: lower it."],
  [
    /No such image/i,
    "The image is not on this Docker host any more: run the preview again to rebuild or pull it.",
  ],
  [
    /executable file not found|no such file or directory/i,
    "Check the image's CMD/ENTRYPOINT or the `command` input.",
  ],
];

/** A create/start failure as the error the lifecycle reports (step "run"), with advice when we have it. */
export function runError(err: unknown, scrub: (text: string) => string = (t) => t): PreviewError {
  if (err instanceof PreviewError) return err;
  const message = scrub(engineMessage(err));
  const advice =
    ADVICE.find(([pattern]) => pattern.test(message))?.[1] ?? "Check the Docker engine's message above.";
  return new PreviewError("run", `Docker could not start the app's container: ${message}. ${advice}`, {
    code: "DOCKER_RUN_FAILED",
    cause: err,
  });
}

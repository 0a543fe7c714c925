import type Docker from "dockerode";
import type { PreviewConfig } from "../config/types.js";
import { PreviewError } from "../errors.js";
import type { RunningApp, Runtime } from "../lifecycle/types.js";
import type { Logger } from "../log.js";
import { readOnlyCachesNote } from "./cache/index.js";
import { CacheDirs, type CacheStore } from "./cache-dirs.js";
import { dockerClient } from "./client.js";
import { startContainer } from "./container.js";
import { engineAddress } from "./docker-errors.js";
import { prepareImage } from "./image.js";
import { waitUntilReady } from "./readiness/wait.js";
import { removeEndedRuns } from "./sweep.js";
import type { PreviewLabels } from "./types.js";

export interface DockerRuntimeOptions {
  /** The engine to use; default the one DOCKER_HOST names (see dockerClient), made on connect. */
  readonly docker?: Docker;
  readonly log: Logger;
  readonly labels: PreviewLabels;
  /** The Actions cache behind `cache-dirs` (the Action); without it the volumes persist on this machine only. */
  readonly cacheStore?: CacheStore;
  readonly cacheBudgetBytes?: number;
  /**
   * Why this run only reads the caches other runs start from (src/action/trust.ts): cache-dirs are restored
   * and never saved, `cache: gha` is imported and never exported, a `registry:` cache is pulled and never
   * pushed. Undefined (the CLI, a branch's own run, a `pull_request` run): it writes them too.
   */
  readonly cacheReadOnly?: string;
  /**
   * Is the run a leftover container names (`RUN_ID.ATTEMPT`) over? Asked only where its holder process
   * cannot be looked at (another machine sharing the engine): the Action asks the Actions API.
   */
  readonly runOver?: (run: string) => Promise<boolean>;
}

/** The Runtime on a Docker engine (local, or remote through DOCKER_HOST). */
export function dockerRuntime(config: PreviewConfig, opts: DockerRuntimeOptions): Runtime {
  const { log, labels } = opts;
  let client = opts.docker;
  const engine = () => {
    if (!client) throw new Error("dockerRuntime: connect() comes first");
    return client;
  };
  let cacheDirs: CacheDirs | undefined;
  const cacheDirsOf = () =>
    (cacheDirs ??= new CacheDirs(config, {
      docker: engine(),
      log,
      labels,
      store: opts.cacheStore,
      budgetBytes: opts.cacheBudgetBytes,
      readOnly: opts.cacheReadOnly !== undefined,
    }));
  return {
    async connect(step) {
      client ??= dockerClient(step);
      await engineAnswers(client, step);
      // Said once, before any cache is touched: connect() runs once per preview.
      const note = opts.cacheReadOnly && readOnlyCachesNote(config, opts.cacheReadOnly);
      if (note) log.info(note);
      // The cache-dirs volumes fill from the Actions cache from here on, while the image builds or pulls:
      // that needs the engine, not the app's image.
      cacheDirsOf().prefetch();
      await removeLeftBehind(client, labels, log, opts.runOver);
    },
    prepareImage(source, signal) {
      return prepareImage(engine(), source, labels, log, { signal, cacheReadOnly: opts.cacheReadOnly });
    },
    async start(image) {
      const docker = engine();
      const cacheDirs = cacheDirsOf();
      // The restore counts into "run": it is part of what the app waits for before it starts.
      const volumes = await cacheDirs.mount();
      const app = await startContainer(docker, image, { ...config, volumes }, labels, log);
      return {
        id: app.id,
        hostPort: app.hostPort,
        localUrl: app.localUrl,
        exited: app.exited,
        tail: (n) => app.tail(n),
        remove: (patienceMs) =>
          app.remove({
            patienceMs,
            onWaiting: (problem) =>
              log.warning(
                `The Docker engine does not answer (${problem}); trying again for up to ${Math.round(patienceMs / 1000)} s to remove container ${app.id.slice(0, 12)}.`,
              ),
          }),
        waitUntilReady: async (wait) => void (await waitUntilReady(docker, app, { ...wait, log })),
        keepStartup: () => cacheDirs.save(),
      } satisfies RunningApp;
    },
    release: async () => cacheDirs?.discard(),
  };
}

/**
 * A missing engine is the most common first-run problem: say so plainly instead of a socket error. It is
 * the step that first needs the engine (build, or pull for an `image`), as the phase timing names it.
 */
async function engineAnswers(docker: Docker, step: "build" | "pull"): Promise<void> {
  try {
    await docker.ping();
  } catch (err) {
    throw new PreviewError(
      step,
      `The Docker engine does not answer at ${engineAddress()} (${(err as Error).message}). Start Docker (e.g. \`sudo systemctl start docker\`) or point DOCKER_HOST at a running engine.`,
      { code: "DOCKER_UNREACHABLE", cause: err },
    );
  }
}

/**
 * What ended runs of this PR and name left (killed outright: containers, networks) goes first; said, never
 * fatal.
 */
async function removeLeftBehind(
  docker: Docker,
  labels: PreviewLabels,
  log: Logger,
  runOver: DockerRuntimeOptions["runOver"],
): Promise<void> {
  try {
    for (const { kind, id, run } of await removeEndedRuns(docker, labels, runOver))
      log.warning(
        `Removed ${kind} ${kind === "container" ? id.slice(0, 12) : id} left behind by run ${run} of this preview, which ended without cleaning up.`,
      );
  } catch (err) {
    log.warning(`Could not check for containers left behind by ended runs: ${(err as Error).message}`);
  }
}

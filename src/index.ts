/**
 * ml-preview's library API: the same lifecycle the Action and the CLI run, callable from code.
 *
 *   const config = parseConfig({ context: "examples/dash-tips", tunnel: "none" }, { workspace: process.cwd() });
 *   const runtime = dockerRuntime(config, { log: silentLogger, labels });
 *   await runPreview(config, { runtime, log: silentLogger, reporters: [], signal, ... });
 */
export { ConfigErrors, parseConfig } from "./config/parse.js";
export type * from "./config/types.js";
export { dockerClient } from "./docker/client.js";
export { type DockerRuntimeOptions, dockerRuntime } from "./docker/runtime.js";
export { ConfigError, PreviewError } from "./errors.js";
export { type PreviewDeps, type PreviewResult, runPreview } from "./lifecycle/preview.js";
export type {
  PreviewEvent,
  PreviewEventName,
  Reporter,
  RunningApp,
  Runtime,
  StateDetails,
} from "./lifecycle/types.js";
export { type Logger, silentLogger } from "./log.js";

/**
 * The entry files in dist/ (main.js, post.js, cli.js, holder.js, sweep.js) call these. Each loads only what it needs
 * (the CLI never loads Octokit or the Actions toolkit) and ends the process when its work is done: open
 * handles (HTTP keep-alive, the ngrok runtime) must not keep a finished step alive.
 */
export const entries = {
  actionMain: () => finish(import("./action/main.js").then((m) => m.actionMain())),
  actionPost: () => finish(import("./action/post.js").then((m) => m.actionPost())),
  cliMain: () => finish(import("./cli/index.js").then((m) => m.cliMain())),
  holderMain: () => finish(import("./action/holder.js").then((m) => m.holderMain())),
  actionSweep: () => finish(import("./action/sweep.js").then((m) => m.actionSweep())),
};

function finish(work: Promise<void>): void {
  work.then(
    () => process.exit(),
    (err: unknown) => {
      process.stderr.write(`ml-preview: unexpected error: ${(err as Error)?.stack ?? err}\n`);
      process.exit(1);
    },
  );
}

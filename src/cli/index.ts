import { existsSync } from "node:fs";
import { basename, resolve } from "node:path";
import { scalar } from "../config/check/index.js";
import { ConfigErrors, parseConfig } from "../config/parse.js";
import { dockerClient } from "../docker/client.js";
import { ConfigError } from "../errors.js";
import { pollIntervalMs, tunnelWatchdogMs } from "../lifecycle/poll.js";
import type { Logger } from "../log.js";
import { runPreview } from "../preview.js";
import { asFlag, parseCliArgs, USAGE, UsageError } from "./args.js";
import { humanReporter, jsonReporter } from "./reporters.js";

declare const ML_PREVIEW_VERSION: string | undefined;

/** `ml-preview up|share`: the same lifecycle as the Action, for laptops, notebooks and other CI. */
export async function cliMain(argv = process.argv.slice(2), env = process.env): Promise<void> {
  process.exitCode = await run(argv, env);
}

async function run(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const err = (t: string) => process.stderr.write(t);
  let args: ReturnType<typeof parseCliArgs>;
  let config: ReturnType<typeof parseConfig>;
  try {
    args = parseCliArgs(argv, env);
    if (args.command === "help") {
      err(USAGE);
      return 0;
    }
    if (args.command === "version") {
      process.stdout.write(`${typeof ML_PREVIEW_VERSION === "string" ? ML_PREVIEW_VERSION : "dev"}\n`);
      return 0;
    }
    const sharePort = args.sharePort === undefined ? undefined : scalar.port("port", args.sharePort);
    // On a laptop the user names the folder to build: it is the workspace (the Action confines PR code to
    // its checkout; here nothing untrusted is involved). The Dockerfile must still be inside it.
    const contextDir = resolve(process.cwd(), args.inputs.context ?? ".");
    const inputs = args.command === "up" ? { ...args.inputs, context: "." } : args.inputs;
    if (args.command === "up" && !existsSync(contextDir)) {
      throw new ConfigError(
        "context",
        `context "${args.inputs.context}" is not a folder. Give the folder that holds your Dockerfile.`,
      );
    }
    config = parseConfig(inputs, { workspace: contextDir, cwd: process.cwd(), sharePort });
  } catch (e) {
    if (e instanceof UsageError || e instanceof ConfigErrors || e instanceof ConfigError) {
      const errors = e instanceof ConfigErrors ? e.errors : e instanceof ConfigError ? [e] : [];
      const lines = errors.length > 0 ? errors.map((c) => asFlag(c)) : e.message.split("\n");
      err(lines.map((l) => `ml-preview: ${l}\n`).join(""));
      return 2;
    }
    throw e;
  }
  if (config.tunnel.provider === "none" && !args.json && !args.inputs["ngrok-authtoken"]) {
    err(
      "No NGROK_AUTHTOKEN set: the preview gets a local URL only. Set it (or --ngrok-authtoken) for a public one.\n",
    );
  }

  const log: Logger = {
    info: (m) => err(`${m}\n`),
    warning: (m) => err(`warning: ${m}\n`),
    debug: (m) => (env.ML_PREVIEW_DEBUG ? err(`debug: ${m}\n`) : undefined),
    group: async (title, fn) => {
      err(`${title}\n`);
      return fn();
    },
  };
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (sig: string) => {
    signals += 1;
    // A second Ctrl-C while cleaning up means "now": leave at once (containers carry labels for a sweep).
    if (signals > 1) process.exit(130);
    controller.abort(`stopped by ${sig}`);
  };
  process.on("SIGINT", () => onSignal("SIGINT"));
  process.on("SIGTERM", () => onSignal("SIGTERM"));

  const runId = `cli-${process.pid}-${Date.now()}`;
  const repo = `local/${basename(process.cwd())}`;
  const reporter = args.json
    ? jsonReporter((t) => process.stdout.write(t))
    : humanReporter((t) => process.stdout.write(t), err);
  let docker: ReturnType<typeof dockerClient> | undefined;
  try {
    docker = config.source.kind === "share" ? undefined : dockerClient();
  } catch (e) {
    err(`ml-preview: ${(e as Error).message}\n`);
    return 1;
  }
  const result = await runPreview(config, {
    docker,
    log: args.json ? { ...log, info: () => {}, group: (_t, fn) => fn() } : log,
    reporters: [reporter],
    signal: controller.signal,
    labels: {
      "ml-preview.repo": repo,
      "ml-preview.pr": "none",
      "ml-preview.run": runId,
      "ml-preview.name": config.name,
    },
    metadata: { repo, run: runId, name: config.name },
    pollIntervalMs: pollIntervalMs(env),
    watchdogMs: tunnelWatchdogMs(env),
  });
  return result.state === "failed" ? 1 : 0;
}

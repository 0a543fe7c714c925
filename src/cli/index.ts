import { spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { basename, join, resolve } from "node:path";
import type Docker from "dockerode";
import * as scalar from "../config/check/scalars.js";
import { CLI_MAX_DURATION, ConfigErrors, parseConfig } from "../config/parse.js";
import type { PreviewConfig } from "../config/types.js";
import { dockerClient } from "../docker/client.js";
import { dockerRuntime } from "../docker/runtime.js";
import { removeCacheVolumes, removeTransferImage } from "../docker/volumes.js";
import { ConfigError } from "../errors.js";
import { eventsFileReporter } from "../lifecycle/events-file.js";
import { pollIntervalMs, tunnelWatchdogMs } from "../lifecycle/poll.js";
import { runPreview } from "../lifecycle/preview.js";
import type { Logger } from "../log.js";
import { inertJsonLine, plainForRunner } from "../workflow-commands.js";
import {
  asFlag,
  type CliArgs,
  cliWords,
  parseCliArgs,
  ShareNeedsTokenError,
  UsageError,
  usage,
} from "./args.js";
import { followHolder } from "./follow.js";
import { tokenLookup } from "./ngrok-config.js";
import {
  checkStateDir,
  eventsPath,
  HOLDER_ARG,
  listPreviews,
  type PreviewRecord,
  type PreviewRow,
  register,
  runIdFor,
  StateDirError,
  stateDir,
  stopPreview,
  sweepDead,
} from "./previews.js";
import { humanReporter, jsonReporter, lsTable, terminalOf } from "./reporters.js";

declare const ML_PREVIEW_VERSION: string | undefined;

type UpArgs = Extract<CliArgs, { command: "up" | "share" }>;
// In a GitHub Actions `run:` step the runner reads both streams for workflow commands: the build's and the
// app's lines (and errors quoting them) must stay text there. JSON lines keep their value and stay inert.
const inActions = process.env.GITHUB_ACTIONS === "true";
const err = (t: string) => process.stderr.write(inActions ? plainForRunner(t).text : t);
const out = (t: string) => process.stdout.write(inActions ? plainForRunner(t).text : t);
const outJson = (t: string) => process.stdout.write(inertJsonLine(t));

/** `ml-preview up|share|ls|down`: the same lifecycle as the Action, for laptops, notebooks and other CI. */
export async function cliMain(argv = process.argv.slice(2), env = process.env): Promise<void> {
  process.exitCode = await run(argv[0] === HOLDER_ARG ? await holderArgv() : argv, env);
}

/** A `--detach` holder's flags: one JSON array of strings on its stdin, written by detach() (never argv). */
async function holderArgv(): Promise<string[]> {
  let text = "";
  for await (const chunk of process.stdin) text += chunk;
  const argv: unknown = JSON.parse(text);
  if (!Array.isArray(argv) || !argv.every((a) => typeof a === "string"))
    throw new Error(`${HOLDER_ARG}: stdin must hold the flags as a JSON array of strings`);
  return argv;
}

async function run(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  let args: CliArgs;
  let config: PreviewConfig | undefined;
  try {
    args = parseCliArgs(argv, tokenLookup(env), { env, readFile: (path) => readFileSync(path) });
    if (args.command === "up" || args.command === "share") config = parseUpConfig(args, env);
  } catch (e) {
    if (e instanceof UsageError || e instanceof ConfigErrors || e instanceof ConfigError) {
      const errors = e instanceof ConfigErrors ? e.errors : e instanceof ConfigError ? [e] : [];
      const lines = errors.length > 0 ? errors.map((c) => asFlag(c)) : e.message.split("\n");
      if (e instanceof ShareNeedsTokenError) lines.push(await appOnPort(e.port));
      err(lines.map((l) => `ml-preview: ${l}\n`).join(""));
      return 2;
    }
    throw e;
  }
  if (args.command === "up" || args.command === "share" || args.command === "ls" || args.command === "down") {
    try {
      checkStateDir(env);
    } catch (e) {
      if (!(e instanceof StateDirError)) throw e;
      err(`ml-preview: ${e.message}\n`);
      return 2;
    }
  }
  switch (args.command) {
    case "help":
      process.stdout.write(usage(args.topic));
      return 0;
    case "version":
      process.stdout.write(`${typeof ML_PREVIEW_VERSION === "string" ? ML_PREVIEW_VERSION : "dev"}\n`);
      return 0;
    case "ls":
      return ls(args.json, env);
    case "down":
      return down(args, env);
    default:
      return args.detach ? detach(argv, args, config!, env) : up(args, config!, env);
  }
}

/** Whether something takes TCP connections on 127.0.0.1:PORT, where share's tunnel would connect. */
function listens(port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host: "127.0.0.1", port, timeout: timeoutMs });
    const end = (yes: boolean) => {
      socket.destroy();
      done(yes);
    };
    socket.once("connect", () => end(true));
    socket.once("timeout", () => end(false));
    socket.once("error", () => end(false));
  });
}

/** What share can say about the app on --port without a tunnel: only the truth. */
async function appOnPort(port: string): Promise<string> {
  const n = Number(port);
  if (!(Number.isInteger(n) && n > 0 && n < 65536)) return `--port ${port} is not a port (1-65535).`;
  if (await listens(n)) return `Your app is already at http://127.0.0.1:${n} on this machine.`;
  return `Nothing listens on 127.0.0.1:${n} (--port ${n}) either: start your app first (e.g. \`app.run(port=${n})\`), then share its port.`;
}

function parseUpConfig(args: UpArgs, env: NodeJS.ProcessEnv): PreviewConfig {
  const sharePort = args.sharePort === undefined ? undefined : scalar.port("port", args.sharePort);
  // On a laptop the user names the folder to build: it is the workspace (the Action confines PR code to
  // its checkout; here nothing untrusted is involved). The Dockerfile must still be inside it.
  const contextDir = resolve(process.cwd(), args.inputs.context ?? ".");
  const inputs = args.command === "up" ? { ...args.inputs, context: "." } : args.inputs;
  if (args.command === "up" && !existsSync(contextDir)) {
    throw new ConfigError(
      "context",
      `context "${args.inputs.context}" is not a folder.`,
      `CONTEXT "${args.inputs.context}" is not a folder. Give the folder that holds your Dockerfile (default: this one).`,
    );
  }
  // The 5h50m cap is a GitHub job's limit: it applies when this CLI runs inside a workflow, not on a laptop.
  const maxDuration = env.GITHUB_ACTIONS === "true" ? undefined : CLI_MAX_DURATION;
  return parseConfig(inputs, { workspace: contextDir, cwd: process.cwd(), sharePort, maxDuration });
}

/** Hints about inputs that will not do what the user may think, before anything starts. */
function warnings(args: UpArgs, config: PreviewConfig): string[] {
  const out: string[] = [];
  if (config.tunnel.provider !== "none") return out;
  const given = ["basic-auth", "oauth-provider", "allow-cidrs", "traffic-policy", "ngrok-domain"] as const;
  const ignored = given.filter((i) => args.inputs[i]).map((i) => asFlag({ input: i, message: i }));
  if (ignored.length > 0) {
    out.push(
      `${ignored.join(", ")} ${ignored.length > 1 ? "are" : "is"} ignored with --tunnel none: there is no public URL to protect. The local URL is open to anyone who can reach this machine's 127.0.0.1.`,
    );
  } else if (!args.json && !args.inputs["ngrok-authtoken"] && args.inputs.tunnel === "none") {
    out.push(
      "No ngrok authtoken (--ngrok-authtoken, $NGROK_AUTHTOKEN or `ngrok config add-authtoken`): the preview gets a local URL only.",
    );
  }
  return out;
}

function cliLogger(
  env: NodeJS.ProcessEnv,
  quiet: boolean,
  onWarning: (m: string) => void = () => {},
): Logger {
  const say = (m: string) => err(`${cliWords(m)}\n`);
  return {
    info: (m) => (quiet ? undefined : say(m)),
    warning: (m) => {
      onWarning(m);
      say(`warning: ${m}`);
    },
    debug: (m) => (env.ML_PREVIEW_DEBUG ? say(`debug: ${m}`) : undefined),
    group: async (title, fn) => {
      if (!quiet) say(title);
      return fn();
    },
  };
}

async function up(args: UpArgs, config: PreviewConfig, env: NodeJS.ProcessEnv): Promise<number> {
  // A --detach holder's warnings were printed by the command that started it.
  if (!env.ML_PREVIEW_HOLDER_LOG) for (const w of warnings(args, config)) err(`warning: ${w}\n`);
  const dir = stateDir(env);
  // A DOCKER_HOST that cannot be used is reported by the preview, as the step that first needs the engine.
  const docker = safeDocker();
  await sweepDead(dir, docker).catch(() => []);
  const taken = listPreviews(dir).find((p) => p.name === config.name && p.state !== "dead" && !p.notOurs);
  if (taken) {
    err(
      `ml-preview: a preview named "${config.name}" is already running on this machine${taken.url ? ` (${taken.url})` : ""}. Give this one another --name, or end that one with \`ml-preview down ${config.name}\`.\n`,
    );
    return 2;
  }
  const runId = runIdFor();
  const record = registered(dir, {
    name: config.name,
    runId,
    pid: process.pid,
    command: args.command,
    startedAt: new Date().toISOString(),
    log: env.ML_PREVIEW_HOLDER_LOG,
  });
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (sig: string) => {
    signals += 1;
    // A second Ctrl-C while cleaning up means "now": leave at once (containers carry labels for a sweep).
    if (signals > 1) process.exit(130);
    controller.abort(`stopped by ${sig}`);
  };
  // SIGHUP: the terminal closed. Like Ctrl-C, the preview ends and is cleaned up.
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(sig, () => onSignal(sig));

  const repo = localRepo();
  const term = terminalOf(process.stdout, env);
  // CleanupStack reports a step that failed as a warning starting "Cleanup:"; the last line then says so.
  let cleanedUp = true;
  const opts = {
    command: args.command,
    tunnel: config.tunnel.provider !== "none",
    cleanedUp: () => cleanedUp,
  };
  const reporter = args.json ? jsonReporter(outJson, opts) : humanReporter(out, err, term, opts);
  try {
    const log = cliLogger(env, args.json, (m) => {
      if (m.startsWith("Cleanup:")) cleanedUp = false;
    });
    const labels = {
      "ml-preview.repo": repo,
      "ml-preview.pr": "none",
      "ml-preview.run": runId,
      "ml-preview.name": config.name,
    };
    const result = await runPreview(config, {
      runtime: config.source.kind === "share" ? undefined : dockerRuntime(config, { docker, log, labels }),
      log,
      reporters: [reporter, eventsFileReporter(record.events, () => ({}))],
      signal: controller.signal,
      metadata: { repo, run: runId, name: config.name },
      pollIntervalMs: pollIntervalMs(env),
      watchdogMs: tunnelWatchdogMs(env),
    });
    return result.state === "failed" ? 1 : 0;
  } finally {
    record.forget();
  }
}

/** A read-only home (some CI containers) must not stop a preview: it then only misses from `ls`. */
function registered(dir: string, record: PreviewRecord): ReturnType<typeof register> {
  try {
    return register(dir, record);
  } catch (e) {
    err(
      `warning: cannot write ${dir} (${(e as Error).message}); \`ml-preview ls\` and \`down\` will not see this preview.\n`,
    );
    return { events: "/dev/null", forget: () => {} };
  }
}

/** What the CLI calls the repo in labels (and so in --cache-dir volume names): this folder. */
function localRepo(): string {
  return `local/${basename(process.cwd())}`;
}

function safeDocker() {
  try {
    return dockerClient();
  } catch {
    return undefined;
  }
}

/**
 * `--detach`: the same command runs again as a background holder (its own session, so closing this
 * terminal does not end it), writing to a log file; this process follows the holder until the preview is
 * live (or failed) and returns with the URL, or with why not.
 */
async function detach(
  argv: string[],
  args: UpArgs,
  config: PreviewConfig,
  env: NodeJS.ProcessEnv,
): Promise<number> {
  for (const w of warnings(args, config)) err(`warning: ${w}\n`);
  const dir = stateDir(env); // made and checked by run()
  const log = join(dir, `${config.name}-${Date.now()}-${process.pid}.log`);
  const logFd = openSync(log, "a+", 0o600);
  // The flags hold secrets (--ngrok-authtoken, --basic-auth, --env): they go through a pipe the holder reads
  // once, never into its argv, which every user of the machine can read (`ps`, /proc/PID/cmdline).
  const child = spawn(process.execPath, [process.argv[1]!, HOLDER_ARG, config.name], {
    detached: true,
    stdio: ["pipe", logFd, logFd],
    env: { ...env, ML_PREVIEW_HOLDER_LOG: log },
  });
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  if (child.pid === undefined) {
    closeSync(logFd);
    err(`ml-preview: could not start the background preview (${process.execPath}).\n`);
    return 1;
  }
  // The holder's run id (and so its events file) follows from its pid and start time, known once it runs.
  // Opened before the holder gets its flags (it waits for them), so it is the file the holder writes.
  const events = eventsPath(dir, runIdFor(child.pid));
  const eventsFd = openSync(events, "a+", 0o600);
  child.stdin!.on("error", () => undefined); // a holder that died at once: its exit says so
  child.stdin!.end(JSON.stringify(argv.filter((a) => a !== "--detach")));
  child.unref();
  if (!args.json) err(`Starting "${config.name}" in the background; its output also goes to ${log}\n`);
  return followHolder(
    { pid: child.pid, name: config.name, log, logFd, events, eventsFd, exited },
    {
      json: args.json,
      command: args.command,
      tunnel: config.tunnel.provider !== "none",
      term: terminalOf(process.stdout, env),
      out,
      err,
      outJson,
    },
  );
}

/** Records in the state folder that are not the caller's: named, never acted on. */
function reportNotOurs(rows: PreviewRow[], what: string): void {
  for (const r of rows)
    if (r.notOurs)
      err(`ml-preview: ${what} "${r.name}": ${r.notOurs}. Only your own previews are listed and ended.\n`);
}

async function ls(json: boolean, env: NodeJS.ProcessEnv): Promise<number> {
  const dir = stateDir(env);
  const cleaned = await sweepDead(dir, safeDocker());
  for (const name of cleaned) err(`Removed "${name}": its process had died.\n`);
  const all = listPreviews(dir);
  reportNotOurs(all, "not listed");
  const rows = all.filter((r) => !r.notOurs);
  if (json) {
    for (const r of rows)
      outJson(
        `${JSON.stringify({ name: r.name, url: r.url, localUrl: r.localUrl, expiresAt: r.expiresAt, state: r.state, pid: r.pid })}\n`,
      );
  } else out(lsTable(rows));
  return 0;
}

async function down(
  { names, all, volumes }: Extract<CliArgs, { command: "down" }>,
  env: NodeJS.ProcessEnv,
): Promise<number> {
  const dir = stateDir(env);
  const docker = safeDocker();
  const cleaned = await sweepDead(dir, docker);
  for (const name of cleaned) err(`Removed "${name}": its process had died.\n`);
  const asked = listPreviews(dir).filter((r) => all || names.includes(r.name));
  reportNotOurs(asked, "left alone");
  const rows = asked.filter((r) => !r.notOurs);
  const foreign = asked.length - rows.length;
  const missing = all ? [] : names.filter((n) => !asked.some((r) => r.name === n) && !cleaned.includes(n));
  await Promise.all(
    rows.map(async (r) => {
      await stopPreview(dir, r, docker);
      err(`Stopped "${r.name}"${r.url ? ` (${r.url})` : ""}.\n`);
    }),
  );
  const removed = volumes ? await removeVolumes(docker, all ? undefined : names) : new Set<string>();
  const unknown = missing.filter((n) => !removed.has(n));
  for (const n of unknown)
    err(`ml-preview: no preview named "${n}" on this machine. See \`ml-preview ls\`.\n`);
  return unknown.length > 0 || foreign > 0 || removed.has("") ? 1 : 0;
}

/**
 * `down --volumes`: the --cache-dir volumes of this folder's app (all names, or these); returns the names
 * that had some ("" when removal failed).
 */
async function removeVolumes(docker: Docker | undefined, names: string[] | undefined): Promise<Set<string>> {
  const had = new Set<string>();
  if (!docker) {
    err("ml-preview: the Docker engine does not answer; cannot remove the --cache-dir volumes.\n");
    return new Set([""]);
  }
  for (const name of names ?? [undefined]) {
    try {
      const removed = await removeCacheVolumes(docker, { repo: localRepo(), name });
      if (removed.length > 0) had.add(name ?? "*");
      err(`Removed ${removed.length} cache volume(s)${name ? ` of "${name}"` : ""}.\n`);
    } catch (e) {
      err(`ml-preview: ${(e as Error).message}\n`);
      had.add("");
    }
  }
  // The empty image cache volumes are copied through (the Action's restore and save); one in use stays.
  await removeTransferImage(docker);
  return had;
}

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { type Annotation, lineSplitter, StepCommands } from "./workflow-commands.js";

/**
 * The repository root (the first folder up from here holding action.yml): the runner runs
 * `node <action dir>/dist/main.js`. Found by walking up, as the bench runs this bundled from elsewhere.
 */
export const ACTION_DIR = actionDir(__dirname);

/** The runner's Node.js (node24, scripts/runner-node.sh, fetched once from the npm registry): its path. */
export function runnerNode(): string {
  return execFileSync("bash", [join(ACTION_DIR, "scripts/runner-node.sh")], { encoding: "utf8" }).trim();
}

function actionDir(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "action.yml"))) return dir;
    if (dirname(dir) === dir) throw new Error(`no action.yml in ${from} or any folder above it`);
  }
}

export interface RunnerJob {
  /** Action inputs by their action.yml names; defaults from action.yml are filled in like the runner does. */
  readonly inputs: Record<string, string>;
  readonly eventName?: string;
  readonly event?: unknown;
  readonly workspace?: string;
  readonly env?: Record<string, string>;
  /** The node binary that runs the step (scripts/runner-node.sh: the runner's node24); default this one. */
  readonly node?: string;
}

export interface RunningStep {
  readonly child: ChildProcess;
  readonly done: Promise<StepResult>;
}

export interface StepResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The raw streams; the runner reads both for workflow commands (workflow-commands.ts). */
  readonly stdout: string;
  readonly stderr: string;
  /** From GITHUB_OUTPUT, over any `::set-output` lines (the runner reads the file after the step). */
  readonly outputs: Record<string, string>;
  readonly state: Record<string, string>;
  readonly summary: string;
  /** Every annotation the step's lines made (`::warning::`, `##[error]`...), as the runner would show it. */
  readonly annotations: readonly Annotation[];
  /** Commands the runner would refuse, failing the step (set-env without the opt-in, a bad stop token...). */
  readonly commandFailures: readonly string[];
}

/** A job's files and env, as the runner sets them up for a JavaScript action (runner-protocol.md). */
export class RunnerHarness {
  readonly dir = mkdtempSync(join(tmpdir(), "ml-preview-runner-"));
  readonly workspace: string;
  /** State main saved with `::save-state` lines: the post step gets it too, under what GITHUB_STATE says. */
  private readonly lineState: Record<string, string> = {};
  private readonly files = {
    output: join(this.dir, "output"),
    state: join(this.dir, "state"),
    summary: join(this.dir, "summary.md"),
    env: join(this.dir, "env"),
    path: join(this.dir, "path"),
    event: join(this.dir, "event.json"),
  };

  constructor(private readonly job: RunnerJob) {
    this.workspace = job.workspace ?? join(this.dir, "workspace");
    mkdirSync(this.workspace, { recursive: true });
    mkdirSync(join(this.dir, "temp"), { recursive: true });
    for (const f of Object.values(this.files)) writeFileSync(f, "");
    writeFileSync(this.files.event, JSON.stringify(job.event ?? {}));
  }

  /** `node dist/main.js`; resolves when it exits. */
  main(): Promise<StepResult> {
    return this.startMain().done;
  }

  /** Start main without waiting for it: watch it, or cancel it like the runner does. */
  startMain(): RunningStep {
    const child = this.spawnStep("main.js", {});
    return { child, done: this.finish(child, this.lineState) };
  }

  /** Another entry of dist/ (e.g. sweep.js, the scheduled sweep's action) as its own job step. */
  step(file: string): Promise<StepResult> {
    writeFileSync(this.files.output, "");
    return this.finish(this.spawnStep(file, {}));
  }

  /** `node dist/post.js` with STATE_* from what main saved. */
  post(extra: Record<string, string> = {}): Promise<StepResult> {
    return this.startPost(extra).done;
  }

  /** Start the post step without waiting for it (`extra`: env only this step sees). */
  startPost(extra: Record<string, string> = {}): RunningStep {
    const state = this.savedState();
    const env = Object.fromEntries(Object.entries(state).map(([k, v]) => [`STATE_${k}`, v]));
    writeFileSync(this.files.output, "");
    const child = this.spawnStep("post.js", { ...env, ...extra });
    return { child, done: this.finish(child) };
  }

  /**
   * The runner's cancel: SIGINT, SIGTERM 7.5 s later, SIGKILL 2.5 s after that (scaled by `scale`).
   * `escalatedTo`: the signals the step did not end before (empty when SIGINT alone ended it).
   */
  async cancel(step: RunningStep, scale = 1): Promise<StepResult & { escalatedTo: NodeJS.Signals[] }> {
    const escalatedTo: NodeJS.Signals[] = [];
    step.child.kill("SIGINT");
    for (const [wait, sig] of [
      [7500, "SIGTERM"],
      [2500, "SIGKILL"],
    ] as const) {
      if (await endsWithin(step, wait * scale)) break;
      escalatedTo.push(sig);
      step.child.kill(sig);
    }
    return { ...(await step.done), escalatedTo };
  }

  /** What the step saved with saveState so far (GITHUB_STATE), e.g. the detached holder's events file. */
  savedState(): Record<string, string> {
    return { ...this.lineState, ...parseFileCommand(readFileSync(this.files.state, "utf8")) };
  }

  env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    const inputs = Object.fromEntries(
      Object.entries({ ...actionDefaults(), ...this.job.inputs }).map(([k, v]) => [
        `INPUT_${k.replace(/ /g, "_").toUpperCase()}`,
        v,
      ]),
    );
    const base: NodeJS.ProcessEnv = {};
    for (const k of ["PATH", "HOME", "DOCKER_HOST", "TMPDIR", "LANG"])
      if (process.env[k]) base[k] = process.env[k];
    return {
      ...base,
      GITHUB_ACTIONS: "true",
      CI: "true",
      GITHUB_EVENT_NAME: this.job.eventName ?? "pull_request",
      GITHUB_EVENT_PATH: this.files.event,
      GITHUB_REPOSITORY: "octo-org/ml-app",
      GITHUB_API_URL: "http://127.0.0.1:9",
      GITHUB_SERVER_URL: "https://github.com",
      GITHUB_RUN_ID: "1001",
      GITHUB_RUN_ATTEMPT: "1",
      GITHUB_SHA: "0123456789abcdef0123456789abcdef01234567",
      GITHUB_REF: "refs/pull/12/merge",
      GITHUB_WORKSPACE: this.workspace,
      GITHUB_OUTPUT: this.files.output,
      GITHUB_STATE: this.files.state,
      GITHUB_STEP_SUMMARY: this.files.summary,
      GITHUB_ENV: this.files.env,
      GITHUB_PATH: this.files.path,
      RUNNER_TEMP: join(this.dir, "temp"),
      RUNNER_OS: "Linux",
      RUNNER_ARCH: "X64",
      ...inputs,
      ...this.job.env,
      ...extra,
    };
  }

  private spawnStep(file: string, extra: Record<string, string>): ChildProcess {
    const entry = join(ACTION_DIR, "dist", file);
    if (!existsSync(entry)) throw new Error(`${entry} is missing: run npm run bundle`);
    // The runner's own Node.js (action.yml: node24) where a test or the bench provides it; else this one.
    return spawn(this.job.node ?? process.execPath, [entry], {
      cwd: this.workspace,
      env: this.env(extra),
      stdio: ["ignore", "pipe", "pipe"],
    });
  }

  /**
   * Collects the step's streams and carries out their workflow commands as the runner does: one command
   * manager for both streams, each cut into lines as it arrives. `state`: where its save-state lines go.
   */
  private finish(child: ChildProcess, state: Record<string, string> = {}): Promise<StepResult> {
    let stdout = "";
    let stderr = "";
    const commands = new StepCommands(this.env());
    const out = lineSplitter((line) => commands.line(line));
    const err = lineSplitter((line) => commands.line(line));
    child.stdout?.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
      out.push(d);
    });
    child.stderr?.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
      err.push(d);
    });
    return new Promise((resolveResult) => {
      child.on("close", (code, signal) => {
        out.end();
        err.end();
        Object.assign(state, commands.state);
        resolveResult({
          code,
          signal,
          stdout,
          stderr,
          outputs: { ...commands.outputs, ...parseFileCommand(readFileSync(this.files.output, "utf8")) },
          state: this.savedState(),
          summary: readFileSync(this.files.summary, "utf8"),
          annotations: commands.annotations,
          commandFailures: commands.failures,
        });
      });
    });
  }
}

/** Whether the step ends within `ms` (the runner's patience between its cancel signals). */
async function endsWithin(step: RunningStep, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const patience = new Promise<false>((r) => {
    timer = setTimeout(() => r(false), ms);
  });
  try {
    return await Promise.race([step.done.then(() => true as const), patience]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves once the step's log so far matches `pattern` (the step keeps running). */
export function stepSays(step: RunningStep, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = "";
    const onData = (d: string) => {
      seen += d;
      const m = pattern.exec(seen);
      if (m) {
        step.child.stdout?.off("data", onData);
        resolve(m[0]);
      }
    };
    step.child.stdout?.on("data", onData);
    step.child.once("close", () => reject(new Error(`the step ended without saying ${pattern}:\n${seen}`)));
  });
}

/** `name<<DELIM\nvalue\nDELIM` blocks, as @actions/core writes GITHUB_OUTPUT and GITHUB_STATE; last one wins. */
export function parseFileCommand(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const m = /^([^<=]+)<<(.+)$/.exec(lines[i]!);
    if (!m) continue;
    const value: string[] = [];
    for (i++; i < lines.length && lines[i] !== m[2]; i++) value.push(lines[i]!);
    out[m[1]!] = value.join("\n");
  }
  return out;
}

/** Defaults from action.yml, as the runner fills them in (github-token is the job token). */
export function actionDefaults(): Record<string, string> {
  const yml = readFileSync(join(ACTION_DIR, "action.yml"), "utf8");
  const inputsBlock = yml.split(/^inputs:\n/m)[1]!.split(/^outputs:/m)[0]!;
  const out: Record<string, string> = {};
  let current = "";
  for (const line of inputsBlock.split("\n")) {
    const name = /^ {2}([a-z0-9-]+):\s*$/.exec(line);
    if (name) current = name[1]!;
    const dflt = /^ {4}default:\s*(.*)$/.exec(line);
    if (dflt && current) out[current] = dflt[1]!.replace(/^"(.*)"$/, "$1");
  }
  out["github-token"] = "ghs_emulatortoken";
  return out;
}

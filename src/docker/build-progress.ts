import { type BuildKitStatus, decodeBuildKitStatus } from "./buildkit-status.js";
import { LineSplitter } from "./json-events.js";

/** One JSON object of the engine's /build (or /images/create, /push) event stream. */
export interface EngineEvent {
  stream?: string;
  status?: string;
  progress?: string;
  /** Pull/push byte counts of one layer: `current` of `total`. */
  progressDetail?: { current?: number; total?: number };
  id?: string;
  aux?: unknown;
  error?: string;
  errorDetail?: { code?: number; message?: string };
}

/** A Dockerfile step as the builder reported it. */
export interface BuildStep {
  /** "Step 3/5 : RUN pip install -r requirements.txt" */
  readonly label: string;
  /** The instruction alone: "RUN pip install -r requirements.txt". */
  readonly instruction: string;
  cached: boolean;
  /** Its last output lines (ANSI colours removed). */
  readonly output: string[];
}

const KEEP_LINES = 50;
const CLASSIC_STEP = /^Step (\d+)\/(\d+) : (.*)$/;
const CLASSIC_HOUSEKEEPING = /^( ---> |Removing intermediate container |Successfully (built|tagged) )/;
const BUILDKIT_STEP = /^\[(?:(\S+) )?(\d+)\/(\d+)\] (.*)$/;

/**
 * Follows a build's event stream, from either builder: the classic builder's "Step i/n" text or
 * BuildKit's trace messages. Knows the current step, each step's last output lines, cache hits,
 * the image id and the error event — `followProgress` reports no error for a failed build, so the
 * failure is read from the events here. Every human-readable line goes to `emit` (the build log).
 */
export class BuildProgress {
  imageId: string | undefined;
  error: string | undefined;
  private readonly steps = new Map<string, BuildStep>();
  private current: BuildStep | undefined;
  private failed: BuildStep | undefined;
  private readonly classicText = new LineSplitter();
  private readonly stageTotals = new Map<string, number>();
  private classicTotal = 0;
  private inLabelSteps = false;
  private readonly errorsShown = new Set<string>();
  private readonly started = new Set<string>();
  private readonly cached = new Set<string>();

  /**
   * @param labelSteps how many `labels` the build was given: the classic builder runs each one as an
   * extra `LABEL` step after the Dockerfile's last, and counts them in "Step i/n"; they are not the
   * user's steps, so they are neither counted nor shown in step names.
   */
  constructor(
    private readonly emit: (line: string) => void = () => {},
    private readonly labelSteps = 0,
  ) {}

  push(event: EngineEvent): void {
    if (event.id === "moby.buildkit.trace" && typeof event.aux === "string") {
      this.buildKit(decodeBuildKitStatus(event.aux));
      return;
    }
    const auxId = (event.aux as { ID?: unknown } | undefined)?.ID;
    if (typeof auxId === "string") this.imageId = auxId;
    if (typeof event.stream === "string")
      for (const line of this.classicText.push(event.stream)) this.classic(line);
    if (event.status && !event.progress) this.emit(event.id ? `${event.id}: ${event.status}` : event.status);
    const error = event.errorDetail?.message ?? event.error;
    if (error) {
      this.end();
      this.error = error;
      this.failed ??= this.current;
      if (!this.errorsShown.has(error)) this.emit(`ERROR: ${error}`);
    }
  }

  /** Flushes a last line that had no newline. */
  end(): void {
    for (const line of this.classicText.end()) this.classic(line);
  }

  /** The step that failed (or was running when the error came). */
  get failedStep(): BuildStep | undefined {
    return this.failed;
  }

  get totalSteps(): number {
    const buildKit = [...this.stageTotals.values()].reduce((a, b) => a + b, 0);
    return this.classicTotal || buildKit;
  }

  get cachedSteps(): number {
    return [...this.steps.values()].filter((s) => s.cached).length;
  }

  private classic(raw: string): void {
    const line = stripAnsi(raw);
    if (line.trim() === "") return;
    const step = CLASSIC_STEP.exec(line);
    if (step) {
      const total = Number(step[2]) - this.labelSteps;
      const index = Number(step[1]);
      this.classicTotal = total;
      this.inLabelSteps = index > total;
      if (this.inLabelSteps) {
        this.current = undefined;
        return;
      }
      const label = `Step ${index}/${total} : ${step[3]}`;
      this.emit(label);
      this.current = this.step(`classic-${index}`, label, step[3] ?? "");
      return;
    }
    const housekeeping = CLASSIC_HOUSEKEEPING.test(line);
    if (this.inLabelSteps && housekeeping && !line.startsWith("Successfully")) return;
    this.emit(line);
    if (line === " ---> Using cache" && this.current) this.current.cached = true;
    else if (!housekeeping && this.current) keep(this.current.output, line);
  }

  private buildKit(status: BuildKitStatus): void {
    for (const v of status.vertexes) {
      const step = this.steps.get(v.digest) ?? this.buildKitStep(v.digest, v.name);
      if (v.started && !this.started.has(v.digest)) {
        this.started.add(v.digest);
        if (step) this.current = step;
        if (!v.cached) this.emit(v.name);
      }
      if (v.cached && !this.cached.has(v.digest)) {
        this.cached.add(v.digest);
        if (step) step.cached = true;
        this.emit(`CACHED ${v.name}`);
      }
      if (v.error && !this.errorsShown.has(v.error)) {
        this.errorsShown.add(v.error);
        this.failed ??= step ?? this.current;
        this.emit(`ERROR: ${v.error}`);
      }
    }
    for (const log of status.logs) {
      const step = this.steps.get(log.vertex);
      for (const line of log.text.split(/\r?\n/)) {
        if (line.trim() === "") continue;
        const clean = stripAnsi(line);
        this.emit(clean);
        if (step) keep(step.output, clean);
      }
    }
  }

  /** A vertex named like "[2/5] RUN ..." or "[builder 2/5] RUN ..." is a Dockerfile step. */
  private buildKitStep(digest: string, name: string): BuildStep | undefined {
    const match = BUILDKIT_STEP.exec(name);
    if (!match) return undefined;
    this.stageTotals.set(match[1] ?? "", Number(match[3]));
    // BuildKit calls unnamed stages "stage-N"; only a name the Dockerfile gave helps people.
    const stage = match[1] && !/^stage-\d+$/.test(match[1]) ? ` (stage ${match[1]})` : "";
    return this.step(digest, `Step ${match[2]}/${match[3]} : ${match[4]}${stage}`, match[4] ?? "");
  }

  private step(key: string, label: string, instruction: string): BuildStep {
    const step: BuildStep = { label, instruction, cached: false, output: [] };
    this.steps.set(key, step);
    return step;
  }
}

function keep(lines: string[], line: string): void {
  lines.push(line);
  if (lines.length > KEEP_LINES) lines.shift();
}

export function stripAnsi(text: string): string {
  return text.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, "");
}

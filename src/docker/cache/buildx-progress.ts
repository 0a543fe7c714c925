import type { BuildStep } from "../build-progress.js";

const KEEP_LINES = 50;

/**
 * Reads `docker buildx build --progress plain` output: Dockerfile steps, cache hits, and the failure
 * when the Dockerfile fails:
 *   #7 [2/4] RUN pip install -r requirements.txt
 *   #7 CACHED
 *   #8 ERROR: process "/bin/sh -c false" did not complete successfully: exit code: 1
 *   ERROR: failed to solve: process "/bin/sh -c false" did not complete successfully: exit code: 1
 */
export class BuildxProgress {
  private readonly steps = new Map<string, BuildStep>();
  private readonly stageTotals = new Map<string, number>();
  private failedStep?: BuildStep;
  private solveError?: string;
  /** Its last lines, for the fallback warning when buildx fails. */
  readonly tail: string[] = [];

  push(line: string): void {
    this.tail.push(line);
    if (this.tail.length > 20) this.tail.shift();
    // BuildKit's "failed to solve" is the Dockerfile's failure (a parse error, a failing step, a base
    // image it cannot pull); newer buildx prefixes "failed to build: ".
    const solve = /^ERROR: (?:failed to build: )?failed to solve: (.*)$/.exec(line);
    if (solve?.[1]) {
      this.solveError = solve[1];
      return;
    }
    const step = /^#(\d+) \[(?:(\S+) )?(\d+)\/(\d+)\] (.*)$/.exec(line);
    if (step?.[1]) {
      if (!this.steps.has(step[1])) {
        const instruction = step[5] ?? "";
        this.steps.set(step[1], {
          label: `[${step[3]}/${step[4]}] ${instruction}`,
          instruction,
          cached: false,
          output: [],
        });
      }
      this.stageTotals.set(step[2] ?? "", Number(step[4]));
      return;
    }
    const own = /^#(\d+) (.*)$/.exec(line);
    const known = own?.[1] ? this.steps.get(own[1]) : undefined;
    if (!known || own?.[2] === undefined) return;
    if (/^CACHED\s*$/.test(own[2])) known.cached = true;
    else if (/^ERROR: /.test(own[2])) this.failedStep = known;
    else if (!/^DONE [\d.]+s$/.test(own[2])) {
      // "#7 1.234 Collecting torch": the step's own output, without BuildKit's timestamp.
      known.output.push(own[2].replace(/^\d+\.\d+ /, ""));
      if (known.output.length > KEEP_LINES) known.output.shift();
    }
  }

  /** The Dockerfile's failure, when BuildKit reported one. */
  get failure(): { message: string; step?: BuildStep } | undefined {
    return this.solveError === undefined ? undefined : { message: this.solveError, step: this.failedStep };
  }

  get totalSteps(): number {
    return [...this.stageTotals.values()].reduce((a, b) => a + b, 0);
  }

  get cachedSteps(): number {
    return [...this.steps.values()].filter((s) => s.cached).length;
  }
}

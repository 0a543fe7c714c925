/**
 * Counts Dockerfile steps and cache hits in `docker buildx build --progress plain` output:
 *   #7 [2/4] RUN pip install -r requirements.txt
 *   #7 CACHED
 */
export class BuildxProgress {
  private readonly steps = new Map<string, { cached: boolean }>();
  private readonly stageTotals = new Map<string, number>();
  /** Its last lines, for the fallback warning when buildx fails. */
  readonly tail: string[] = [];

  push(line: string): void {
    this.tail.push(line);
    if (this.tail.length > 20) this.tail.shift();
    const step = /^#(\d+) \[(?:(\S+) )?(\d+)\/(\d+)\] /.exec(line);
    if (step?.[1]) {
      if (!this.steps.has(step[1])) this.steps.set(step[1], { cached: false });
      this.stageTotals.set(step[2] ?? "", Number(step[4]));
      return;
    }
    const cached = /^#(\d+) CACHED\s*$/.exec(line);
    const known = cached?.[1] ? this.steps.get(cached[1]) : undefined;
    if (known) known.cached = true;
  }

  get totalSteps(): number {
    return [...this.stageTotals.values()].reduce((a, b) => a + b, 0);
  }

  get cachedSteps(): number {
    return [...this.steps.values()].filter((s) => s.cached).length;
  }
}

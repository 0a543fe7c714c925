import type { Logger } from "../log.js";

/**
 * Undo steps, run last-in first-out. Each runs even when an earlier one fails, so a failed tunnel close
 * never leaves a container behind.
 */
export class CleanupStack {
  private readonly steps: Array<{ what: string; undo: () => Promise<void> }> = [];

  constructor(private readonly log: Logger) {}

  push(what: string, undo: () => Promise<void>): void {
    this.steps.push({ what, undo });
  }

  async run(): Promise<void> {
    while (this.steps.length > 0) {
      const step = this.steps.pop()!;
      try {
        await step.undo();
      } catch (err) {
        this.log.warning(`Cleanup: could not ${step.what}: ${(err as Error).message}`);
      }
    }
  }
}

import type { Logger } from "../log.js";

/** Undo steps for what the preview created. Each runs even when another fails, so a failed tunnel close never leaves a container behind. */
export class CleanupStack {
  private readonly steps: Array<{ what: string; undo: () => Promise<void> }> = [];

  constructor(private readonly log: Logger) {}

  push(what: string, undo: () => Promise<void>): void {
    this.steps.push({ what, undo });
  }

  /**
   * All steps at once: closing the tunnel and removing the container do not depend on each other, and a
   * cancelled runner SIGKILLs us 10 s after SIGINT, so the slowest step bounds the time, not their sum.
   */
  async run(): Promise<void> {
    const steps = this.steps.splice(0).reverse();
    await Promise.all(
      steps.map(async (step) => {
        try {
          await step.undo();
        } catch (err) {
          this.log.warning(`Cleanup: could not ${step.what}: ${(err as Error).message}`);
        }
      }),
    );
  }
}

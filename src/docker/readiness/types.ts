/** What a readiness strategy gets while it waits. */
export interface ReadinessContext {
  /** Aborted when the wait ends for any reason (ready elsewhere, exit, timeout, cancel): stop then. */
  readonly signal: AbortSignal;
  /** Subscribes to "look again now" hints (a new log line); returns the unsubscribe function. */
  onNudge(listener: () => void): () => void;
  /** Why this strategy is not ready yet, for the timeout message ("GET / answered 404"). */
  note(text: string): void;
}

/** One way of telling that the app is ready. Strategies are raced: the first to resolve wins. */
export interface ReadinessStrategy {
  /** Shown in logs and returned by waitUntilReady, e.g. "http GET /_stcore/health". */
  readonly name: string;
  /** Resolves once ready; stays pending while not; rejects only once ctx.signal is aborted. */
  until(ctx: ReadinessContext): Promise<void>;
}

/**
 * One look: `ready`; `down` when nothing answers yet (a log line is then worth an immediate retry);
 * `up` when the app answers but is not ready (its own log lines are then no reason to hurry).
 */
export type ProbeOutcome = "ready" | "down" | "up";

import type { Tunnel } from "../tunnel/types.js";
import type { CleanupStack } from "./cleanup.js";

/**
 * A tunnel opened while the app is still starting. The ngrok session and bind take a few hundred ms (more
 * over a real network); the app's port is known once its container runs, so there is no reason to make the
 * reviewer's link wait for both one after the other. Closing it is registered at once, so a readiness
 * failure or a stop request never leaves the session behind, even one that is still being opened.
 */
export class EarlyTunnel {
  private readonly opening: Promise<Tunnel>;
  private readonly failed = new AbortController();
  private failure: { error: unknown } | undefined;

  constructor(open: () => Promise<Tunnel>, cleanup: CleanupStack) {
    this.opening = open();
    this.opening.catch((error: unknown) => {
      this.failure = { error };
      this.failed.abort(error);
    });
    cleanup.push("close the tunnel", async () => {
      const tunnel = await this.opening.catch(() => undefined);
      await tunnel?.close();
    });
  }

  /**
   * Runs the wait for the app alongside the opening. A tunnel that cannot be opened (a bad authtoken, say)
   * ends the wait at once and is the error thrown: the user should not sit through a readiness timeout to
   * learn that.
   */
  async alongside<T>(signal: AbortSignal, wait: (signal: AbortSignal) => Promise<T>): Promise<T> {
    try {
      return await wait(AbortSignal.any([signal, this.failed.signal]));
    } catch (err) {
      if (this.failure) throw this.failure.error;
      throw err;
    }
  }

  /** The open tunnel, or its opening error. */
  tunnel(): Promise<Tunnel> {
    return this.opening;
  }
}

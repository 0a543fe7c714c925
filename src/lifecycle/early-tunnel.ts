import { PreviewError } from "../errors.js";
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
  /** Ends an opening nobody needs any more: the app failed, or the preview is over. */
  private readonly unneeded = new AbortController();
  private readonly failed = new AbortController();
  private failure: { error: unknown } | undefined;

  constructor(open: (signal: AbortSignal) => Promise<Tunnel>, signal: AbortSignal, cleanup: CleanupStack) {
    this.opening = open(AbortSignal.any([signal, this.unneeded.signal])).catch((err: unknown) => {
      throw asTunnelError(err);
    });
    this.opening.catch((error: unknown) => {
      this.failure = { error };
      this.failed.abort(error);
    });
    cleanup.push("close the tunnel", async () => {
      this.unneeded.abort(new Error("the preview ended"));
      const tunnel = await this.opening.catch(() => undefined);
      await tunnel?.close();
    });
  }

  /**
   * Runs the wait for the app alongside the opening. A tunnel that cannot be opened (a bad authtoken, say)
   * ends the wait at once and is the error thrown: the user should not sit through a readiness timeout to
   * learn that. The app's own failure (it exited, it timed out) stays the error when it is one, and stops
   * the opening.
   */
  async alongside<T>(signal: AbortSignal, wait: (signal: AbortSignal) => Promise<T>): Promise<T> {
    try {
      return await wait(AbortSignal.any([signal, this.failed.signal]));
    } catch (err) {
      if (this.failure && !signal.aborted && endedByTunnel(err, this.failure.error)) throw this.failure.error;
      this.unneeded.abort(new Error("the app did not become ready"));
      throw err;
    }
  }

  /** The open tunnel, or its opening error. */
  tunnel(): Promise<Tunnel> {
    return this.opening;
  }
}

/** The wait ended because the tunnel failed (it was cancelled with that reason), not for a reason of its own. */
function endedByTunnel(err: unknown, tunnelError: unknown): boolean {
  return err === tunnelError || (err instanceof PreviewError && err.code === "CANCELLED");
}

/** The failed comment names the step: whatever went wrong while opening the tunnel is the tunnel's. */
function asTunnelError(err: unknown): PreviewError {
  if (err instanceof PreviewError) return err;
  return new PreviewError("tunnel", `Could not open the tunnel: ${(err as Error)?.message ?? String(err)}`, {
    code: "TUNNEL_FAILED",
    cause: err,
  });
}

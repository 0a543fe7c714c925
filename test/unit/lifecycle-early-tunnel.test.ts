import { describe, expect, it } from "vitest";
import { PreviewError } from "../../src/errors.js";
import { CleanupStack } from "../../src/lifecycle/cleanup.js";
import { EarlyTunnel } from "../../src/lifecycle/early-tunnel.js";
import type { Logger } from "../../src/log.js";
import type { Tunnel } from "../../src/tunnel/types.js";

const warnings: string[] = [];
const log: Logger = {
  info: () => {},
  debug: () => {},
  warning: (m) => warnings.push(m),
  group: (_t, fn) => fn(),
};

/** A tunnel whose opening the test settles by hand, and that counts its closes and sees its signal. */
function pendingTunnel() {
  let settle!: { resolve: (t: Tunnel) => void; reject: (e: unknown) => void };
  const opening = new Promise<Tunnel>((resolve, reject) => {
    settle = { resolve, reject };
  });
  let openSignal: AbortSignal | undefined;
  const open = (signal: AbortSignal) => {
    openSignal = signal;
    return opening;
  };
  let closes = 0;
  const tunnel = {
    url: "https://x.ngrok.app",
    close: async () => {
      closes++;
    },
    onLost: () => {},
  } as unknown as Tunnel;
  return { open, settle, tunnel, closes: () => closes, signal: () => openSignal! };
}

const running = () => new AbortController().signal;

/** The readiness wait's own failure: the app exited before it answered. */
const exited = new PreviewError("ready", "The app exited with code 3", { code: "APP_EXITED", exitCode: 3 });

/** A wait that ends only when its signal aborts (an app that never answers). */
const never = (signal: AbortSignal) =>
  new Promise<never>((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)));

describe("EarlyTunnel", () => {
  it("ends the wait for the app as soon as the tunnel fails, and throws the tunnel's error", async () => {
    const t = pendingTunnel();
    const early = new EarlyTunnel(t.open, running(), new CleanupStack(log));
    const waiting = early.alongside(new AbortController().signal, never);
    const refused = new PreviewError("tunnel", "ngrok rejected the authtoken (ERR_NGROK_105)", {
      code: "ERR_NGROK_105",
    });
    t.settle.reject(refused);
    await expect(waiting).rejects.toBe(refused);
    await expect(early.tunnel()).rejects.toBe(refused);
  });

  it("lets the app's own failure through when the tunnel is fine, and closes the tunnel in cleanup", async () => {
    const t = pendingTunnel();
    const cleanup = new CleanupStack(log);
    const early = new EarlyTunnel(t.open, running(), cleanup);
    t.settle.resolve(t.tunnel);
    const appFailed = new Error("the app exited with code 3");
    await expect(
      early.alongside(new AbortController().signal, async () => {
        throw appFailed;
      }),
    ).rejects.toBe(appFailed);
    await cleanup.run();
    expect(t.closes()).toBe(1);
  });

  it("passes a stop request to the wait, and cleanup closes a tunnel that finished opening only afterwards", async () => {
    const t = pendingTunnel();
    const cleanup = new CleanupStack(log);
    const early = new EarlyTunnel(t.open, running(), cleanup);
    const stop = new AbortController();
    const waiting = early.alongside(stop.signal, never);
    stop.abort(new Error("cancelled"));
    await expect(waiting).rejects.toThrow("cancelled");
    const cleaned = cleanup.run();
    t.settle.resolve(t.tunnel);
    await cleaned;
    expect(t.closes()).toBe(1);
  });

  it("stops opening the tunnel once the app has failed, and keeps the app's error", async () => {
    const t = pendingTunnel();
    const early = new EarlyTunnel(t.open, running(), new CleanupStack(log));
    await expect(
      early.alongside(running(), async () => {
        throw exited;
      }),
    ).rejects.toBe(exited);
    expect(t.signal().aborted).toBe(true);
  });

  it("reports the app's exit, not the tunnel, when both fail (the app's error has its exit code and logs)", async () => {
    const t = pendingTunnel();
    const early = new EarlyTunnel(t.open, running(), new CleanupStack(log));
    // The app exits on the event loop's next turn: after the tunnel's failure (below) has been handled.
    const waiting = early.alongside(running(), async () => {
      await new Promise((r) => setImmediate(r));
      throw exited;
    });
    t.settle.reject(new PreviewError("tunnel", "ERR_NGROK_105", { code: "ERR_NGROK_105" }));
    await expect(waiting).rejects.toBe(exited);
  });

  it("names the tunnel step for any opening failure, PreviewError or not", async () => {
    const t = pendingTunnel();
    const early = new EarlyTunnel(t.open, running(), new CleanupStack(log));
    t.settle.reject(new Error("addon missing"));
    const err = await early.tunnel().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PreviewError);
    expect(err).toMatchObject({ step: "tunnel", code: "TUNNEL_FAILED" });
    expect((err as Error).message).toContain("addon missing");
  });

  it("cleanup does not wait for an opening nobody needs: it aborts it", async () => {
    const cleanup = new CleanupStack(log);
    new EarlyTunnel(
      (signal) =>
        new Promise<Tunnel>((_, reject) => signal.addEventListener("abort", () => reject(signal.reason))),
      running(),
      cleanup,
    );
    await cleanup.run();
    expect(warnings).toEqual([]);
  });

  it("gives the tunnel once the app is ready", async () => {
    const t = pendingTunnel();
    const early = new EarlyTunnel(t.open, running(), new CleanupStack(log));
    t.settle.resolve(t.tunnel);
    await expect(early.alongside(new AbortController().signal, async () => "ready")).resolves.toBe("ready");
    await expect(early.tunnel()).resolves.toBe(t.tunnel);
    expect(warnings).toEqual([]);
  });
});

import { describe, expect, it } from "vitest";
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

/** A tunnel whose opening the test settles by hand, and that counts its closes. */
function pendingTunnel() {
  let settle!: { resolve: (t: Tunnel) => void; reject: (e: unknown) => void };
  const opening = new Promise<Tunnel>((resolve, reject) => {
    settle = { resolve, reject };
  });
  let closes = 0;
  const tunnel = {
    url: "https://x.ngrok.app",
    close: async () => {
      closes++;
    },
    onLost: () => {},
  } as unknown as Tunnel;
  return { opening, settle, tunnel, closes: () => closes };
}

/** A wait that ends only when its signal aborts (an app that never answers). */
const never = (signal: AbortSignal) =>
  new Promise<never>((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)));

describe("EarlyTunnel", () => {
  it("ends the wait for the app as soon as the tunnel fails, and throws the tunnel's error", async () => {
    const t = pendingTunnel();
    const early = new EarlyTunnel(() => t.opening, new CleanupStack(log));
    const waiting = early.alongside(new AbortController().signal, never);
    const refused = new Error("ERR_NGROK_105: authtoken not valid");
    t.settle.reject(refused);
    await expect(waiting).rejects.toBe(refused);
    await expect(early.tunnel()).rejects.toBe(refused);
  });

  it("lets the app's own failure through when the tunnel is fine, and closes the tunnel in cleanup", async () => {
    const t = pendingTunnel();
    const cleanup = new CleanupStack(log);
    const early = new EarlyTunnel(() => t.opening, cleanup);
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
    const early = new EarlyTunnel(() => t.opening, cleanup);
    const stop = new AbortController();
    const waiting = early.alongside(stop.signal, never);
    stop.abort(new Error("cancelled"));
    await expect(waiting).rejects.toThrow("cancelled");
    const cleaned = cleanup.run();
    t.settle.resolve(t.tunnel);
    await cleaned;
    expect(t.closes()).toBe(1);
  });

  it("gives the tunnel once the app is ready", async () => {
    const t = pendingTunnel();
    const early = new EarlyTunnel(() => t.opening, new CleanupStack(log));
    t.settle.resolve(t.tunnel);
    await expect(early.alongside(new AbortController().signal, async () => "ready")).resolves.toBe("ready");
    await expect(early.tunnel()).resolves.toBe(t.tunnel);
    expect(warnings).toEqual([]);
  });
});

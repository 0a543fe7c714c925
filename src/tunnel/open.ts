import type { TunnelConfig } from "../config/types.js";
import { PreviewError } from "../errors.js";
import type { Logger } from "../log.js";
import { LINK_UP, type Tunnel, type TunnelMetadata } from "./types.js";

export interface OpenTunnelOptions {
  /** How long the agent session may stay disconnected before the tunnel counts as lost (default 30 s). */
  watchdogMs?: number;
  /** How long to retry an ERR_NGROK_334 "URL already online" collision (default 60 s). */
  collisionRetryMs?: number;
  signal?: AbortSignal;
}

/** A tunnel to 127.0.0.1:`target.port`; `none` gives no public URL. Throws PreviewError(step "tunnel"). */
export async function openTunnel(
  config: TunnelConfig,
  target: { port: number },
  meta: TunnelMetadata,
  log: Logger,
  opts: OpenTunnelOptions = {},
): Promise<Tunnel> {
  if (config.provider === "none") {
    log.info(
      `tunnel: none, so the preview is only reachable on the runner at http://127.0.0.1:${target.port}.`,
    );
    return {
      url: undefined,
      onLost() {},
      close: async () => {},
      verify: async () => {},
      linkUp: async () => LINK_UP,
    };
  }
  // The SDK's native addon loads only when a tunnel is asked for (not for `tunnel: none` or bad input).
  const { openNgrokTunnel } = await import("./ngrok.js").catch((err: unknown) => {
    throw new PreviewError(
      "tunnel",
      `The ngrok SDK's native addon could not be loaded here (${(err as Error).message}). The Action carries it for Linux runners on x64 and arm64; elsewhere install ml-preview with npm, which adds the addon for your platform (@ngrok/ngrok-<platform>), or use \`tunnel: none\` for a local URL.`,
      { code: "NGROK_SDK_UNAVAILABLE", cause: err },
    );
  });
  return openNgrokTunnel(config, target, meta, log, {
    watchdogMs: opts.watchdogMs ?? 30_000,
    collisionRetryMs: opts.collisionRetryMs ?? 60_000,
    signal: opts.signal,
  });
}

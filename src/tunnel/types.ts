/** One look at the live link: down when ngrok says the endpoint is gone; final when no fresh tunnel mends it. */
export type LinkState = { up: true } | { up: false; why: string; final?: boolean };

/** A public (or not) URL in front of the app: what the lifecycle asks of a tunnel provider. */
export const LINK_UP: LinkState = { up: true };

export interface Tunnel {
  /** Public URL; undefined for the `none` provider. */
  readonly url?: string;
  /** The protections in force, by name ("basic auth, OAuth (google)"); undefined when the link is open. */
  readonly protection?: string;
  /** Until the URL reaches the app as a visitor sees it; throws PreviewError(step "verify"). No URL: at once. */
  verify(signal: AbortSignal): Promise<void>;
  /** One look at the live link (polled while live); always up without a URL. */
  linkUp(signal: AbortSignal): Promise<LinkState>;
  /** Called once if the tunnel is lost for longer than the watchdog allows. */
  onLost(listener: (reason: string) => void): void;
  /** Unbind the endpoint and close the session; safe to call twice. */
  close(): Promise<void>;
}

/** Names for ngrok's dashboard (metadata) that identify the preview without leaking runner details. */
export interface TunnelMetadata {
  readonly repo?: string;
  readonly pr?: number;
  readonly run?: string;
  readonly name: string;
}

/** Opens a tunnel to 127.0.0.1:`port`; throws PreviewError(step "tunnel"). */
export type TunnelOpener = (port: number, signal: AbortSignal) => Promise<Tunnel>;

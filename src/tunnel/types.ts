/** A public (or not) URL in front of the app. */
export interface Tunnel {
  /** Public URL; undefined for the `none` provider. */
  readonly url?: string;
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

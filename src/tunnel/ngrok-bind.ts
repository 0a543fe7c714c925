import type * as ngrok from "@ngrok/ngrok";
import type { Logger } from "../log.js";
import { explainNgrokError, type NgrokErrorContext, ngrokErrorCode } from "./ngrok-errors.js";
import { abortable, sleep } from "./sleep.js";

export interface EndpointSpec {
  readonly domain?: string;
  /** JSON text of the one traffic policy, if any. */
  readonly trafficPolicy?: string;
  readonly forwardsTo: string;
  readonly metadata: string;
  /** host:port of the app on the runner. */
  readonly upstream: string;
}

const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 5_000;

/**
 * Bind the HTTP endpoint; on ERR_NGROK_334 (the URL is still online, e.g. the previous run is closing)
 * retry with backoff for up to `collisionRetryMs`, then explain. Other refusals are explained at once.
 */
export async function bindEndpoint(
  session: ngrok.Session,
  spec: EndpointSpec,
  log: Logger,
  ctx: NgrokErrorContext,
  collisionRetryMs: number,
  signal: AbortSignal | undefined,
): Promise<ngrok.Listener> {
  const started = Date.now();
  let wait = FIRST_RETRY_MS;
  for (;;) {
    try {
      return await bindOnce(session, spec, log);
    } catch (err) {
      const left = started + collisionRetryMs - Date.now();
      if (ngrokErrorCode(err) !== 334 || left <= 0) {
        const waited = ngrokErrorCode(err) === 334 ? Date.now() - started : undefined;
        throw explainNgrokError(err, { ...ctx, waitedMs: waited });
      }
      if (wait === FIRST_RETRY_MS) {
        log.warning(
          `The preview URL is still online in another ngrok endpoint (ERR_NGROK_334); retrying for up to ` +
            `${Math.round(collisionRetryMs / 1000)} s in case the previous preview is still closing.`,
        );
      }
      await sleep(Math.min(wait, left), signal);
      abortable(signal, "tunnel");
      wait = Math.min(wait * 2, MAX_RETRY_MS);
    }
  }
}

/**
 * `listen(false)` then `forward()`, rather than `listenAndForward(url)`: the latter replaces `forwards_to`
 * with the upstream URL, and `listen()` without `false` would open a stray local socket.
 */
async function bindOnce(session: ngrok.Session, spec: EndpointSpec, log: Logger): Promise<ngrok.Listener> {
  const builder = session.httpEndpoint().forwardsTo(spec.forwardsTo).metadata(spec.metadata);
  if (spec.domain) builder.domain(spec.domain);
  if (spec.trafficPolicy) builder.trafficPolicy(spec.trafficPolicy);
  const listener = await builder.listen(false);
  // Resolves when the listener closes; a failure here means visitors get 502s, which verify catches.
  listener.forward(spec.upstream).catch((err: unknown) => {
    log.debug(`ngrok forwarding ended: ${err instanceof Error ? err.message : String(err)}`);
  });
  return listener;
}

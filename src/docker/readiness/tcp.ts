import { connect } from "node:net";
import { pollUntilReady } from "./poll.js";
import type { ProbeOutcome, ReadinessContext, ReadinessStrategy } from "./types.js";

/**
 * How long an accepted connection must stay open to count. Docker's userland proxy accepts on the
 * published port even when nothing listens inside, then closes the connection once its own dial fails
 * (within a millisecond or two locally): a bare connect would report ready falsely.
 */
export const TCP_CONFIRM_MS = 100;

export interface TcpTarget {
  readonly host: string;
  readonly port: number;
  readonly confirmMs?: number;
}

/** Ready when a connection is accepted and then either stays open for confirmMs or brings data. */
export function tcpStrategy(target: TcpTarget): ReadinessStrategy {
  return {
    name: `tcp ${target.port}`,
    until: (ctx) => pollUntilReady(ctx, (signal) => probeTcp(target, signal, ctx)),
  };
}

export function probeTcp(
  target: TcpTarget,
  signal: AbortSignal,
  ctx: Pick<ReadinessContext, "note">,
): Promise<ProbeOutcome> {
  const confirmMs = target.confirmMs ?? TCP_CONFIRM_MS;
  return new Promise((resolve) => {
    const socket = connect({ host: target.host, port: target.port, signal });
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const finish = (outcome: ProbeOutcome, why?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (why) ctx.note(why);
      resolve(outcome);
    };
    socket.once("connect", () => {
      timer = setTimeout(() => finish("ready"), confirmMs);
    });
    socket.once("data", () => finish("ready"));
    socket.once("end", () =>
      finish("down", `port ${target.port} accepts but closes at once (nothing listens inside)`),
    );
    socket.once("error", (err: NodeJS.ErrnoException) =>
      finish("down", `nothing answers on port ${target.port} yet (${err.code ?? err.message})`),
    );
    socket.once("close", () => finish("down"));
  });
}

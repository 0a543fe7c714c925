import type { ContainerExit } from "../docker/types.js";
import type { MarkerRequest } from "../github/marker.js";

/** Why a live preview ended. */
export type HoldEnd =
  | { readonly state: "expired"; readonly reason: string }
  | { readonly state: "stopped"; readonly reason: string }
  | { readonly state: "superseded"; readonly reason: string }
  | {
      readonly state: "failed";
      readonly step: "live";
      readonly reason: string;
      readonly exit?: ContainerExit;
    }
  | { readonly state: "tunnel-lost"; readonly reason: string }
  /** `/preview extend`: not an end; the caller moves the expiry and holds on. */
  | { readonly state: "extend"; readonly ms: number; readonly by: string; readonly reason: string };

export interface HoldWatch {
  readonly expiresAt: Date;
  readonly signal: AbortSignal;
  /** Resolves when the app's container stops (never, for `share`). */
  readonly exited: Promise<ContainerExit>;
  /** Resolves when the tunnel is lost beyond the watchdog limit. */
  readonly tunnelLost: Promise<string>;
  readonly pollIntervalMs: number;
  /** Polled: false once the PR is closed or merged (only with stop-on-close). */
  readonly prOpen?: (signal: AbortSignal) => Promise<boolean>;
  /** Polled: true once a newer run owns the comment. */
  readonly superseded?: (signal: AbortSignal) => Promise<boolean>;
  /** After each `superseded` poll: a PR command's request that poll found in our own comment. */
  readonly request?: () => MarkerRequest | undefined;
  /**
   * Polled: does the public link still reach our endpoint? Down on two polls in a row and for at least
   * `linkGraceMs` (the time the session watchdog allows a reconnect) counts as a lost tunnel; `final`
   * (ngrok refuses visitors for the account's plan) fails the preview at once.
   */
  readonly linkUp?: (
    signal: AbortSignal,
  ) => Promise<{ up: true } | { up: false; why: string; final?: boolean }>;
  readonly linkGraceMs?: number;
  /** A poll that fails (GitHub down) is logged and retried next interval: never a reason to stop. */
  readonly onPollError: (err: unknown) => void;
}

/** Wait for the first of: expiry, stop signal, PR closed, superseded, container exit, tunnel or link lost. */
export async function holdUntilEnd(w: HoldWatch): Promise<HoldEnd> {
  const done = new AbortController();
  const timers: NodeJS.Timeout[] = [];
  // Once the hold is over no new timer starts (a poll still in flight must not keep the process alive).
  const after = (ms: number) =>
    new Promise<void>((resolve) => {
      if (!done.signal.aborted) timers.push(setTimeout(resolve, Math.max(0, Math.min(ms, 2 ** 31 - 1))));
    });

  const expiry = (async (): Promise<HoldEnd> => {
    // setTimeout caps at ~24.8 days; durations are at most 5h50m, but loop anyway for an exact expiry.
    while (Date.now() < w.expiresAt.getTime()) await after(w.expiresAt.getTime() - Date.now());
    return {
      state: "expired",
      reason: `the preview reached its duration (expired at ${w.expiresAt.toISOString()})`,
    };
  })();
  const stopped = new Promise<HoldEnd>((resolve) => {
    const onAbort = () => resolve({ state: "stopped", reason: stopReason(w.signal) });
    if (w.signal.aborted) onAbort();
    else w.signal.addEventListener("abort", onAbort, { once: true });
  });
  const exited = w.exited.then(
    (exit): HoldEnd => ({
      state: "failed",
      step: "live",
      exit,
      reason: `the app's container exited with code ${exit.exitCode}${exit.oomKilled ? " (killed: out of memory — raise the memory input)" : ""} while the preview was live`,
    }),
  );
  const lost = w.tunnelLost.then((reason): HoldEnd => ({ state: "tunnel-lost", reason }));
  // GitHub's polls and the link check run apart: a slow or hung GitHub API never delays the link check,
  // and a request still in flight when the hold ends is aborted.
  const githubPolled = (async (): Promise<HoldEnd> => {
    for (;;) {
      await after(w.pollIntervalMs);
      if (done.signal.aborted) return new Promise<HoldEnd>(() => {});
      try {
        if (w.superseded && (await w.superseded(done.signal))) {
          return { state: "superseded", reason: "a newer run took over this preview" };
        }
        const request = w.request?.();
        if (request?.kind === "stop")
          return { state: "stopped", reason: `@${request.by} stopped it with \`/preview stop\`` };
        if (request?.kind === "extend")
          return { state: "extend", ms: request.ms ?? 0, by: request.by, reason: "/preview extend" };
        if (w.prOpen && !(await w.prOpen(done.signal))) {
          return { state: "stopped", reason: "the pull request was closed or merged" };
        }
      } catch (err) {
        if (!done.signal.aborted) w.onPollError(err);
      }
    }
  })();
  const linkPolled = (async (): Promise<HoldEnd> => {
    let downs = 0;
    let downSince = 0;
    for (;;) {
      await after(w.pollIntervalMs);
      if (done.signal.aborted || !w.linkUp) return new Promise<HoldEnd>(() => {});
      // A check in flight ends with the hold.
      const link = await w.linkUp(done.signal);
      // ngrok answering for the account (quota, credit): no fresh tunnel mends that.
      if (!link.up && link.final) return { state: "failed", step: "live", reason: link.why };
      if (link.up) downs = 0;
      else if (downs++ === 0) downSince = Date.now();
      if (!link.up && downs >= 2 && Date.now() - downSince >= (w.linkGraceMs ?? 0)) {
        return { state: "tunnel-lost", reason: `the public link stopped working: ${link.why}` };
      }
    }
  })();

  try {
    return await Promise.race([expiry, stopped, exited, lost, githubPolled, linkPolled]);
  } finally {
    done.abort();
    for (const t of timers) clearTimeout(t);
  }
}

export function stopReason(signal: AbortSignal): string {
  const r = signal.reason;
  return typeof r === "string" ? r : r instanceof Error && r.message ? r.message : "the preview was stopped";
}

import type { ContainerExit, PreviewRequest } from "./types.js";

export const PR_CLOSED = "the pull request was closed or merged";

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
  /** The end of the job holding the preview: an expiry there says the job's limit, not the duration, ended it. */
  readonly jobLimit?: Date;
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
  readonly request?: () => PreviewRequest | undefined;
  /**
   * Polled: does the public link still reach our endpoint? Down on two polls in a row and for at least
   * `linkGraceMs` (the time the session watchdog allows a reconnect) counts as a lost tunnel; `final`
   * (ngrok refuses visitors for the account's plan) fails the preview at once.
   */
  readonly linkUp?: (
    signal: AbortSignal,
  ) => Promise<{ up: true } | { up: false; why: string; final?: boolean }>;
  readonly linkGraceMs?: number;
  /** Polled alongside the link: does the app itself still answer on its port (a hung or paused app does not)? */
  readonly appAnswers?: (signal: AbortSignal) => Promise<{ up: true } | { up: false; why: string }>;
  /**
   * Told when the app has not answered on two polls in a row (since when, and why), and again with no
   * `since` once it answers. Not a reason to end: a busy model may come back; the comment says it meanwhile.
   */
  readonly onAppSilence?: (since: Date | undefined, why?: string) => void;
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
  try {
    return await Promise.race([
      expiry(w, after),
      stopped,
      exited,
      lost,
      pollGitHub(w, after, done.signal),
      pollLink(w, after, done.signal),
    ]);
  } finally {
    done.abort();
    for (const t of timers) clearTimeout(t);
  }
}

type After = (ms: number) => Promise<void>;
/** What a poll returns once the hold is over: nothing, ever (the race is decided). */
const over = () => new Promise<HoldEnd>(() => {});

async function expiry(w: HoldWatch, after: After): Promise<HoldEnd> {
  // setTimeout caps at ~24.8 days; durations are at most 5h50m, but loop anyway for an exact expiry.
  while (Date.now() < w.expiresAt.getTime()) await after(w.expiresAt.getTime() - Date.now());
  const at = w.expiresAt.toISOString();
  const byJob = w.jobLimit !== undefined && w.expiresAt.getTime() >= w.jobLimit.getTime();
  return {
    state: "expired",
    reason: byJob
      ? `the job holding the preview reached its time limit (expired at ${at}, before its duration: the build and start took part of the job's time)`
      : `the preview reached its duration (expired at ${at})`,
  };
}

/** Superseded, a PR command, the PR closed: asked of GitHub every interval. */
async function pollGitHub(w: HoldWatch, after: After, done: AbortSignal): Promise<HoldEnd> {
  for (;;) {
    await after(w.pollIntervalMs);
    if (done.aborted) return over();
    try {
      if (w.superseded && (await w.superseded(done))) {
        return { state: "superseded", reason: "a newer run took over this preview" };
      }
      const request = w.request?.();
      if (request?.kind === "stop")
        return { state: "stopped", reason: `@${request.by} stopped it with \`/preview stop\`` };
      if (request?.kind === "extend")
        return { state: "extend", ms: request.ms ?? 0, by: request.by, reason: "/preview extend" };
      if (w.prOpen && !(await w.prOpen(done))) {
        return { state: "stopped", reason: PR_CLOSED };
      }
    } catch (err) {
      if (!done.aborted) w.onPollError(err);
    }
  }
}

/** The public link and the app's own port, in their own loop so a GitHub outage never pauses them. */
async function pollLink(w: HoldWatch, after: After, done: AbortSignal): Promise<HoldEnd> {
  let downs = 0;
  let downSince = 0;
  const silence = silenceTracker(w.onAppSilence);
  for (;;) {
    await after(w.pollIntervalMs);
    if (done.aborted) return over();
    // A check in flight ends with the hold.
    const polledAt = new Date();
    const [link, app] = await Promise.all([
      w.linkUp ? w.linkUp(done) : UP,
      w.appAnswers ? w.appAnswers(done) : UP,
    ]);
    if (done.aborted) return over();
    silence(app, polledAt);
    // ngrok answering for the account (quota, credit): no fresh tunnel mends that.
    if (!link.up && "final" in link && link.final) return { state: "failed", step: "live", reason: link.why };
    if (link.up) downs = 0;
    else if (downs++ === 0) downSince = Date.now();
    if (!link.up && downs >= 2 && Date.now() - downSince >= (w.linkGraceMs ?? 0)) {
      return { state: "tunnel-lost", reason: `the public link stopped working: ${link.why}` };
    }
  }
}

const UP = { up: true } as const;

/** Two silent polls in a row are reported once (with when the first began); an answer after that, once. */
function silenceTracker(report: HoldWatch["onAppSilence"]) {
  let silentSince: Date | undefined;
  let polls = 0;
  let reported = false;
  return (app: { up: true } | { up: false; why: string }, polledAt: Date) => {
    if (app.up) {
      polls = 0;
      if (reported) report?.(undefined);
      reported = false;
      return;
    }
    if (polls++ === 0) silentSince = polledAt;
    if (polls >= 2 && !reported) {
      reported = true;
      report?.(silentSince, app.why);
    }
  };
}

export function stopReason(signal: AbortSignal): string {
  const r = signal.reason;
  return typeof r === "string" ? r : r instanceof Error && r.message ? r.message : "the preview was stopped";
}

/**
 * Before live: polls `prOpen` every interval until the returned function is called, and calls `onClosed`
 * once the PR is closed, so a build is not finished (nor a tunnel opened) for a closed PR. A poll that fails
 * (GitHub down) is logged and retried: never a reason to stop.
 */
export function watchPullRequest(
  prOpen: () => Promise<boolean>,
  intervalMs: number,
  onClosed: () => void,
  onPollError: (err: unknown) => void,
): () => void {
  let over = false;
  let timer: NodeJS.Timeout | undefined;
  const tick = async () => {
    try {
      if (!(await prOpen())) {
        if (!over) onClosed();
        return;
      }
    } catch (err) {
      if (!over) onPollError(err);
    }
    if (!over) timer = setTimeout(tick, intervalMs);
  };
  timer = setTimeout(tick, intervalMs);
  return () => {
    over = true;
    clearTimeout(timer);
  };
}

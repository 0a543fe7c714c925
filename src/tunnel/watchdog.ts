/**
 * Watches an agent session that the SDK reconnects on its own with an uncapped backoff
 * (50 ms, 2.5 s, 125 s, ~104 min): once it has been down longer than `limitMs`, `onLost` fires, once.
 * The session reports `down` on each disconnection and `up` on each heartbeat answer.
 */
export interface Watchdog {
  down(reason: string): void;
  up(): void;
  stop(): void;
}

export function createWatchdog(limitMs: number, onLost: (reason: string) => void): Watchdog {
  let timer: NodeJS.Timeout | undefined;
  let finished = false;
  let lastReason = "";
  const clear = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
  };
  return {
    down(reason) {
      lastReason = reason;
      if (finished || timer) return; // already counting from the first disconnection
      timer = setTimeout(() => {
        finished = true;
        timer = undefined;
        onLost(`the ngrok session has been disconnected for more than ${seconds(limitMs)} (${lastReason})`);
      }, limitMs);
    },
    up: clear,
    stop() {
      finished = true;
      clear();
    },
  };
}

function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}

/** The "tunnel lost" event: fires once; a listener added afterwards still hears it, so none misses it. */
export function lostNotifier(): {
  fire(reason: string): void;
  listen(listener: (reason: string) => void): void;
} {
  const listeners: ((reason: string) => void)[] = [];
  let reason: string | undefined;
  return {
    fire(why) {
      if (reason !== undefined) return;
      reason = why;
      for (const listener of listeners.splice(0)) listener(why);
    },
    listen(listener) {
      if (reason === undefined) listeners.push(listener);
      else {
        const why = reason;
        queueMicrotask(() => listener(why));
      }
    },
  };
}

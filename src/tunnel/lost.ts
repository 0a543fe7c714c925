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

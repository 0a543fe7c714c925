import type { Logger } from "../src/log.js";

/** A quiet Logger that keeps what was said: a figure that went wrong can say why under the table. */
export function benchLogger(): Logger & { warnings: string[]; infos: string[] } {
  const warnings: string[] = [];
  const infos: string[] = [];
  return {
    warnings,
    infos,
    info: (message) => void infos.push(message),
    debug() {},
    warning: (message) => void warnings.push(message),
    group: (_title, fn) => fn(),
  };
}

/** Seconds a log line of ours states ("Built … in 0.2 s", "Pushed the build cache … in 0.0 s"), if any. */
export function secondsSaid(lines: readonly string[], pattern: RegExp): number | undefined {
  for (const line of lines) {
    const m = pattern.exec(line);
    if (m?.[1]) return Number(m[1]) * 1000;
  }
  return undefined;
}

import type { Logger } from "../src/log.js";

/** A quiet Logger that keeps what was said: a figure that went wrong can say why under the table. */
export function benchLogger(): Logger & { warnings: string[]; infos: string[]; infoAt: number[] } {
  const warnings: string[] = [];
  const infos: string[] = [];
  /** performance.now() of each info line, same index. */
  const infoAt: number[] = [];
  return {
    warnings,
    infos,
    infoAt,
    info: (message) => {
      infos.push(message);
      infoAt.push(performance.now());
    },
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

/** Milliseconds from the first line matching `from` to the first later line matching `to`, if both came. */
export function spanSaid(
  log: { infos: readonly string[]; infoAt: readonly number[] },
  from: RegExp,
  to: RegExp,
): number | undefined {
  const start = log.infos.findIndex((l) => from.test(l));
  if (start < 0) return undefined;
  const end = log.infos.findIndex((l, i) => i > start && to.test(l));
  return end < 0 ? undefined : log.infoAt[end]! - log.infoAt[start]!;
}

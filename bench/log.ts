import type { Logger } from "../src/log.js";

/** A quiet Logger that keeps warnings: a figure that went wrong can say why under the table. */
export function benchLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return {
    warnings,
    info() {},
    debug() {},
    warning: (message) => void warnings.push(message),
    group: (_title, fn) => fn(),
  };
}

/** Where progress goes: the Actions log (core.*) or the CLI's stderr. Modules never print on their own. */
export interface Logger {
  info(message: string): void;
  warning(message: string): void;
  debug(message: string): void;
  /** A collapsible section in the Actions log; a heading on the CLI. */
  group<T>(title: string, fn: () => Promise<T>): Promise<T>;
}

/** A logger that drops everything: for library use and tests that do not look at logs. */
export const silentLogger: Logger = {
  info() {},
  warning() {},
  debug() {},
  group: (_title, fn) => fn(),
};

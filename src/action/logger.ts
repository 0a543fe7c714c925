import * as core from "@actions/core";
import type { Logger } from "../log.js";

/** The Actions log: groups become collapsible sections; the runner masks values passed to setSecret. */
export const actionsLogger: Logger = {
  info: (m) => core.info(m),
  warning: (m) => core.warning(m),
  debug: (m) => core.debug(m),
  group: (title, fn) => core.group(title, fn),
};

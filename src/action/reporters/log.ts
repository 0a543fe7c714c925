import type { PreviewEvent, Reporter } from "../../lifecycle/types.js";
import type { Logger } from "../../log.js";

/** One readable line per event in the log. */
export function logReporter(log: Logger): Reporter {
  return {
    name: "log",
    async report({ event, details: d }: PreviewEvent) {
      const line: Record<string, string | undefined> = {
        building: "Building the preview…",
        starting: `Starting ${d.image ?? "the app"}…`,
        ready: `The app answers at ${d.localUrl}.`,
        live: `Preview live: ${d.url ?? d.localUrl}${d.expiresAt ? ` until ${d.expiresAt.toISOString()}` : ""}`,
        expired: `Preview expired: ${d.reason ?? ""}`,
        stopped: `Preview stopped: ${d.reason ?? ""}`,
        superseded: `Preview superseded: ${d.reason ?? ""}`,
        failed: `Preview failed at ${d.step ?? "?"}: ${d.error ?? ""}`,
        skipped: `Preview skipped: ${d.reason ?? ""}`,
      };
      log.info(line[event] ?? event);
    },
  };
}

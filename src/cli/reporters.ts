import QRCode from "qrcode";
import type { PreviewEvent, Reporter } from "../lifecycle/reporter.js";

type Write = (text: string) => void;

/** `--json`: one object per line, the event name first, details flattened (dates as ISO strings). */
export function jsonReporter(write: Write): Reporter {
  return {
    name: "JSON events",
    async report({ event, details }: PreviewEvent) {
      const out: Record<string, unknown> = { event };
      for (const [k, v] of Object.entries(details)) {
        if (v !== undefined && k !== "qrCode") out[k] = v instanceof Date ? v.toISOString() : v;
      }
      write(`${JSON.stringify(out)}\n`);
    },
  };
}

/** For people: progress on stderr; the URL and a terminal QR code on stdout once live. */
export function humanReporter(stdout: Write, stderr: Write): Reporter {
  return {
    name: "terminal",
    async report({ event, details: d }: PreviewEvent) {
      if (event === "live") {
        const url = d.url ?? d.localUrl ?? "";
        stdout(`\n  Preview live: ${url}\n`);
        if (d.url && d.localUrl) stdout(`  Local:        ${d.localUrl}\n`);
        if (d.expiresAt) stdout(`  Until:        ${d.expiresAt.toISOString()} (Ctrl-C stops it sooner)\n`);
        if (d.url) stdout(`\n${await QRCode.toString(d.url, { type: "terminal", small: true })}\n`);
        return;
      }
      const line: Partial<Record<PreviewEvent["event"], string>> = {
        building: "Building the app image…",
        starting: `Starting ${d.image ?? "the app"}…`,
        ready: `The app answers at ${d.localUrl}; opening the tunnel…`,
        expired: `Preview expired. Cleaned up.`,
        stopped: `Preview stopped (${d.reason ?? "stopped"}). Cleaned up.`,
        failed: `Preview failed at ${d.step}: ${d.error}${d.exitCode !== undefined ? ` (exit code ${d.exitCode})` : ""}`,
      };
      const text = line[event];
      if (text) stderr(`${text}\n`);
      if (event === "failed" && d.logLines?.length) stderr(`Last log lines:\n${d.logLines.join("\n")}\n`);
    },
  };
}

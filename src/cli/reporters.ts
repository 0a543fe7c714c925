import QRCode from "qrcode";
import type { PreviewEvent, Reporter, StateDetails } from "../lifecycle/types.js";
import { cliWords } from "./args.js";
import type { PreviewRow } from "./previews.js";

type Write = (text: string) => void;

/** What the terminal can show: colours (ANSI) only on a TTY without NO_COLOR (https://no-color.org). */
export interface Terminal {
  readonly ansi: boolean;
}

export function terminalOf(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): Terminal {
  return { ansi: Boolean(stream.isTTY) && !env.NO_COLOR };
}

/**
 * `--json`: one object per line, the event name first, details flattened (dates as ISO strings). `live`
 * always has `url` (null without a tunnel) and `localUrl`: a reader can index them without a check.
 */
export function jsonReporter(write: Write, opts: Pick<HumanOptions, "command"> = {}): Reporter {
  return {
    name: "JSON events",
    async report({ event, details }: PreviewEvent) {
      const out: Record<string, unknown> =
        event === "live" ? { event, url: null, localUrl: null } : { event };
      for (const [k, v] of Object.entries(details)) {
        if (v === undefined || k === "qrCode") continue;
        out[k] = v instanceof Date ? v.toISOString() : k === "error" ? errorWords(details, opts) : v;
      }
      write(`${JSON.stringify(out)}\n`);
    },
  };
}

/** "14:05 (in 29 min)": the local wall-clock time a person compares with their own clock, and how soon. */
export function whenLocal(at: Date, now = new Date()): string {
  const sameDay = at.toDateString() === now.toDateString();
  const clock = at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  const day = sameDay
    ? clock
    : `${at.toLocaleDateString([], { weekday: "short", day: "numeric", month: "short" })} ${clock}`;
  return `${day} (${relative(at.getTime() - now.getTime())})`;
}

function relative(ms: number): string {
  if (ms < 0) return "passed";
  const min = Math.round(ms / 60_000);
  if (min < 1) return `in ${Math.max(1, Math.round(ms / 1000))} s`;
  if (min < 90) return `in ${min} min`;
  const h = Math.floor(min / 60);
  return `in ${h} h ${min % 60} min`;
}

/**
 * A failure's error in CLI words. A refused or missing ngrok token stops `up` only for the public URL:
 * `--tunnel none` still serves the app locally (`share` has nothing to offer without a tunnel).
 */
export function errorWords(d: StateDetails, opts: Pick<HumanOptions, "command"> = {}): string {
  const text = cliWords(d.error ?? "");
  const token = d.step === "tunnel" && /authtoken/i.test(text);
  return token && opts.command === "up"
    ? `${text} To try it without ngrok: --tunnel none (a local URL only).`
    : text;
}

/** How the preview is held, for what the terminal reporter tells people. */
export interface HumanOptions {
  readonly command?: "up" | "share";
  /** false when a clean-up step failed (its warning is above): the final line must not say "Cleaned up." */
  readonly cleanedUp?: () => boolean;
  /** false: `--tunnel none`, nothing to open once the app answers. */
  readonly tunnel?: boolean;
  /** `--detach`: the preview's name; it is ended with `ml-preview down NAME`, not Ctrl-C. */
  readonly detachedName?: string;
}

/** For people: progress on stderr; the URL and a terminal QR code on stdout once live. */
export function humanReporter(
  stdout: Write,
  stderr: Write,
  term: Terminal = { ansi: false },
  opts: HumanOptions = {},
): Reporter {
  const sooner = opts.detachedName
    ? `\`ml-preview down ${opts.detachedName}\` ends it sooner`
    : "Ctrl-C stops it sooner";
  return {
    name: "terminal",
    async report({ event, details: d }: PreviewEvent) {
      if (event === "live") {
        const url = d.url ?? d.localUrl ?? "";
        stdout(`\n  Preview live: ${url}\n`);
        if (d.url && d.localUrl) stdout(`  Local:        ${d.localUrl}\n`);
        if (d.expiresAt) stdout(`  Until:        ${whenLocal(d.expiresAt)} (${sooner})\n`);
        // Without ANSI the code is drawn with Unicode half blocks: still scannable, no escape codes.
        const type = term.ansi ? "terminal" : "utf8";
        if (d.url) stdout(`\n${await QRCode.toString(d.url, { type, small: true })}\n`);
        return;
      }
      const cleaned =
        opts.cleanedUp?.() === false ? "Clean-up was not complete (see the warning above)." : "Cleaned up.";
      const line: Partial<Record<PreviewEvent["event"], string>> = {
        building: "Building the app image…",
        starting: `Starting ${d.image ?? "the app"}…`,
        ready: `The app answers at ${d.localUrl}${opts.tunnel === false ? "." : "; opening the tunnel…"}`,
        expired: `Preview expired. ${cleaned}`,
        stopped: `Preview stopped (${d.reason ?? "stopped"}). ${cleaned}`,
        failed: `Preview failed at ${d.step}: ${errorWords(d, opts)}${d.exitCode !== undefined ? ` (exit code ${d.exitCode})` : ""}`,
      };
      const text = line[event];
      if (text) stderr(`${text}\n`);
      if (event === "failed" && d.logLines?.length) stderr(`Last log lines:\n${d.logLines.join("\n")}\n`);
    },
  };
}

/** `ml-preview ls`, as `docker ps` prints: one row per preview, columns padded. */
export function lsTable(rows: readonly PreviewRow[]): string {
  const table = [
    ["NAME", "URL", "EXPIRES", "STATE", "PID"],
    ...rows.map((r) => [
      r.name,
      r.url ?? r.localUrl ?? "-",
      r.expiresAt ? whenLocal(r.expiresAt) : "-",
      r.state,
      String(r.pid),
    ]),
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  return table
    .map(
      (row) =>
        `${row
          .map((c, i) => c.padEnd(widths[i]!))
          .join("   ")
          .trimEnd()}\n`,
    )
    .join("");
}

import type { PreviewState } from "../config/types.js";
import type { StateDetails, StateReport } from "../lifecycle/types.js";
import { secretScrubber, truncate } from "../scrub.js";
import { fenced, humanDuration, inlineCode, relativeTime, shortSha, utcTime } from "./format.js";
import { formatMarker } from "./marker.js";
import type { RunContext } from "./pull-request.js";

export interface RenderContext {
  readonly name: string;
  readonly run: RunContext;
  /** Removed from the whole body (the marker line carries none). */
  readonly secrets?: readonly string[];
  /** "Now" for relative times; default `details.at`, then the clock. */
  readonly now?: Date;
}

const TITLES: Record<PreviewState, string> = {
  building: "⏳ Preview {name} is building",
  starting: "🚀 Preview {name} is starting",
  live: "🟢 Preview {name} is live",
  failed: "❌ Preview {name} failed",
  expired: "⌛ Preview {name} expired",
  stopped: "⏹️ Preview {name} stopped",
  superseded: "⏭️ Preview {name} was superseded",
  skipped: "⏸️ Preview {name} was skipped",
};

const DEFAULT_REASONS: Partial<Record<PreviewState, string>> = {
  expired: "Its duration ran out.",
  stopped: "It was stopped before it expired.",
  superseded: "A newer run of this workflow took the preview over.",
  skipped: "This run does not start a preview.",
};

/** The sticky comment's body for one state. Pure: same report, same Markdown (snapshot-tested). */
export function render(report: StateReport, ctx: RenderContext): string {
  const { state, details } = report;
  const now = ctx.now ?? details.at ?? new Date();
  const scrub = secretScrubber(ctx.secrets ?? []);
  const sections = [
    `### ${TITLES[state].replace("{name}", inlineCode(ctx.name))}`,
    ...body(report, ctx, now, scrub),
  ];
  sections.push(footer(details, ctx.run, now));
  const human = scrub(sections.join("\n\n"));
  return `${formatMarker({ name: ctx.name, state, run: ctx.run.runId })}\n${human}\n`;
}

function body(
  { state, details }: StateReport,
  ctx: RenderContext,
  now: Date,
  scrub: (text: string) => string,
): string[] {
  switch (state) {
    case "building":
      return [
        `Building commit ${inlineCode(shortSha(details.commit ?? ctx.run.sha))}` +
          (details.startedAt ? `, started ${utcTime(details.startedAt)}.` : "."),
        "The link appears here once the app answers through the tunnel.",
      ];
    case "starting":
      return [
        "The container is starting; the link appears here once the app answers through the tunnel.",
        ...(details.image ? [`Image: ${inlineCode(details.image)}`] : []),
      ];
    case "live":
      return live(details, now);
    case "failed":
      return failed(details, scrub);
    default:
      return ended(state, details);
  }
}

function live(details: StateDetails, now: Date): string[] {
  const out: string[] = [];
  if (details.url) out.push(`**[${details.url}](${details.url})**`);
  else if (details.localUrl)
    out.push(`No public URL (\`tunnel: none\`): on the runner at ${inlineCode(details.localUrl)}.`);
  if (details.notAnsweringSince)
    out.push(
      `> ⚠️ **The app does not answer** since ${utcTime(details.notAnsweringSince)}` +
        `${details.notAnsweringWhy ? ` (${details.notAnsweringWhy})` : ""}: visitors get errors or time-outs. ` +
        "This note goes away when it answers again.",
    );
  const facts: string[] = [];
  if (details.expiresAt) {
    facts.push(
      `- **Expires** ${utcTime(details.expiresAt)} — ${relativeTime(details.expiresAt, now)} (as of ${utcTime(now)})`,
    );
  }
  if (details.extension) facts.push(extended(details.extension));
  if (details.commit) facts.push(`- **Commit** ${inlineCode(shortSha(details.commit))}`);
  if (typeof details.protected === "string")
    facts.push(`- 🔒 **Protected** by ${details.protected}: visitors must pass it to see the app.`);
  else if (details.protected)
    facts.push("- 🔒 Visitors must sign in (basic auth, OAuth or an IP allow-list protects it).");
  if (facts.length > 0) out.push(facts.join("\n"));
  // No QR code: as GitHub renders a comment, no text drawing of one scans (test/e2e/comment-qr.test.ts).
  if (details.url && showsBrowserWarning(details.url)) {
    out.push(
      "> ngrok shows browsers a one-time warning page on its free domains: click **Visit Site** once. " +
        "Scripts and API clients skip it with the header `ngrok-skip-browser-warning: 1`, e.g. " +
        `\`curl -H "ngrok-skip-browser-warning: 1" ${details.url}\`.`,
    );
  }
  return out;
}

function extended(e: NonNullable<StateDetails["extension"]>): string {
  const by = `- **Extended** by ${humanDuration(e.grantedMs)} at @${e.by}'s request`;
  if (e.grantedMs >= e.requestedMs) return `${by}.`;
  return `${by} (asked for ${humanDuration(e.requestedMs)}; the job holding the preview ends then, so it cannot stay up longer).`;
}

/** Only ngrok's own free domains interpose the warning page; custom and paid domains do not. */
function showsBrowserWarning(url: string): boolean {
  try {
    return /\.ngrok(-free)?\.(app|dev|io)$/.test(new URL(url).hostname);
  } catch {
    return false;
  }
}

const MAX_LOG_LINES = 50;
const MAX_LINE = 500;
const MAX_ERROR = 4000;
// Container logs are full of colour codes that read as garbage in a comment.
const ANSI = /\u001b\[[0-9;?]*[A-Za-z]/g;

/** Text that is cut is scrubbed first: a secret straddling the cut would otherwise leave a fragment. */
function failed(details: StateDetails, scrub: (text: string) => string): string[] {
  const facts = [`**Step:** ${inlineCode(details.step ?? "unknown")}`];
  if (details.exitCode !== undefined) facts.push(`**Exit code:** ${details.exitCode}`);
  const out = [facts.join(" · ")];
  const error = scrub(details.error ?? "No error message was recorded; see the workflow run.").replace(
    ANSI,
    "",
  );
  out.push(fenced(truncate(error, MAX_ERROR)));
  const lines = (details.logLines ?? [])
    .slice(-MAX_LOG_LINES)
    .map((line) => truncate(scrub(line).replace(ANSI, "").trimEnd(), MAX_LINE));
  if (lines.length > 0) {
    out.push(
      `<details><summary>Last ${lines.length} log lines</summary>\n\n${fenced(lines.join("\n"))}\n\n</details>`,
    );
  }
  return out;
}

function ended(state: PreviewState, details: StateDetails): string[] {
  const out: string[] = [];
  // Struck-through code, not a link: the address no longer answers and GitHub must not autolink it.
  if (details.url) out.push(`~~${inlineCode(details.url)}~~ no longer answers.`);
  const why = [`**Why:** ${details.reason ?? DEFAULT_REASONS[state]}`];
  if (details.at) why.push(`**When:** ${utcTime(details.at)}`);
  out.push(why.join("  \n"));
  if (state === "skipped" && details.hint) out.push(`**How to enable it:** ${details.hint}`);
  return out;
}

function footer(details: StateDetails, run: RunContext, now: Date): string {
  const commit = details.commit ?? run.sha;
  const parts = [`[Workflow run](${run.runUrl})`];
  if (commit) parts.push(`commit ${inlineCode(shortSha(commit))}`);
  parts.push(`updated ${utcTime(now)}`);
  return `<sub>${parts.join(" · ")} · ml-preview</sub>`;
}

import type { StateReport } from "../lifecycle/types.js";
import { scrubSecrets } from "../scrub.js";
import { fenced, inlineCode, oneLine, relativeTime, shortSha, utcTime } from "./format.js";
import type { RunContext } from "./pull-request.js";

export interface SummaryContext {
  readonly name: string;
  readonly run: RunContext;
  readonly secrets?: readonly string[];
  readonly now?: Date;
}

/** Markdown for GITHUB_STEP_SUMMARY: the facts of one preview and how long each phase took. Pure. */
export function renderSummary(report: StateReport, ctx: SummaryContext): string {
  const { state, details } = report;
  const now = ctx.now ?? details.at ?? new Date();
  const rows: Array<[string, string]> = [["State", `**${state}**`]];
  if (details.url) rows.push(["URL", state === "live" ? details.url : `~~${details.url}~~`]);
  if (details.localUrl) rows.push(["Local URL", inlineCode(details.localUrl)]);
  if (details.expiresAt) {
    rows.push(["Expires", `${utcTime(details.expiresAt)} (${relativeTime(details.expiresAt, now)})`]);
  }
  if (details.image) rows.push(["Image", inlineCode(details.image)]);
  if (details.imageId && details.imageId !== details.image)
    rows.push(["Image ID", inlineCode(details.imageId)]);
  if (details.buildCache) {
    const { cachedSteps, totalSteps } = details.buildCache;
    rows.push(["Build cache", `${cachedSteps} of ${totalSteps} steps from cache`]);
  }
  if (details.containerId) rows.push(["Container", inlineCode(details.containerId.slice(0, 12))]);
  const commit = details.commit ?? ctx.run.sha;
  if (commit) rows.push(["Commit", inlineCode(shortSha(commit))]);
  if (details.step) rows.push(["Failed step", inlineCode(details.step)]);
  if (details.exitCode !== undefined) rows.push(["Exit code", String(details.exitCode)]);
  if (details.reason) rows.push(["Why", details.reason]);
  if (details.at) rows.push(["When", utcTime(details.at)]);

  const parts = [
    `### ml-preview ${inlineCode(ctx.name)}: ${state}`,
    ["| | |", "|---|---|", ...rows.map(([k, v]) => `| ${k} | ${oneLine(v)} |`)].join("\n"),
  ];
  if (details.error) parts.push(`**Error**\n\n${fenced(details.error)}`);
  if (details.hint) parts.push(`**How to enable it:** ${details.hint}`);
  const phases = Object.entries(details.phases ?? {});
  if (phases.length > 0) {
    parts.push(
      [
        "| Phase | Time |",
        "|---|--:|",
        ...phases.map(([phase, ms]) => `| ${oneLine(phase)} | ${(ms / 1000).toFixed(1)} s |`),
      ].join("\n"),
    );
  }
  if (details.logLines && details.logLines.length > 0) {
    parts.push(
      `<details><summary>Last ${details.logLines.length} log lines</summary>\n\n${fenced(details.logLines.join("\n"))}\n\n</details>`,
    );
  }
  parts.push(`[Workflow run](${ctx.run.runUrl})`);
  return `${scrubSecrets(parts.join("\n\n"), ctx.secrets ?? [])}\n`;
}

/** Small Markdown and time helpers shared by the comment and the job summary. Pure. */

/** `2025-01-31 14:05 UTC`: comments are read in every time zone, so always UTC and unambiguous. */
export function utcTime(date: Date): string {
  return `${date.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

/** `30 min`, `2 h 5 min`, `45 s`: a duration for people, rounded to what matters at that scale. */
export function humanDuration(ms: number): string {
  const seconds = Math.round(Math.abs(ms) / 1000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return rest === 0 ? `${hours} h` : `${hours} h ${rest} min`;
}

/** `in 30 min` / `30 min ago`, relative to `now`. */
export function relativeTime(date: Date, now: Date): string {
  const delta = date.getTime() - now.getTime();
  return delta >= 0 ? `in ${humanDuration(delta)}` : `${humanDuration(delta)} ago`;
}

export function shortSha(sha: string): string {
  return sha.slice(0, 7);
}

/** A fenced block that its content cannot close: the fence is longer than any backtick run inside. */
export function fenced(content: string, info = "text"): string {
  const longestRun = Math.max(0, ...(content.match(/`+/g) ?? []).map((run) => run.length));
  const fence = "`".repeat(Math.max(3, longestRun + 1));
  return `${fence}${info}\n${content}\n${fence}`;
}

/** Inline code that survives backticks in the value (CommonMark: a longer backtick string delimits). */
export function inlineCode(value: string): string {
  const longestRun = Math.max(0, ...(value.match(/`+/g) ?? []).map((run) => run.length));
  const ticks = "`".repeat(longestRun + 1);
  const pad = value.startsWith("`") || value.endsWith("`") ? " " : "";
  return `${ticks}${pad}${value}${pad}${ticks}`;
}

/** Text for a table cell or a line of prose: no pipes or newlines that would break the layout. */
export function oneLine(value: string): string {
  return value.replace(/\r?\n/g, " ").replace(/\|/g, "\\|");
}

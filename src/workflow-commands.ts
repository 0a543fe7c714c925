import { randomBytes } from "node:crypto";

/**
 * What the GitHub runner could take for a workflow command in a step's output (actions/runner, ActionCommand:
 * TryParseV2 wants `::name ...::` after leading white space, TryParse `##[name ...]` anywhere in a line).
 * Tested on the whole text, so how the runner splits lines (\n, \r\n, and a lone \r) does not matter. Its
 * matching is culture-sensitive and skips ignorable characters (`:\u200b:`), but it cuts the name at a fixed
 * offset, which then starts with `:`, `#` or `[` and names no command: only these literal pairs can parse.
 */
const COMMAND_LIKE = /::|##\[/;

/**
 * Text for a step's log that the runner prints but never obeys: build output, app logs and errors quote the
 * pull request's code, whose `::save-state ...` or `##[warning]` lines would otherwise command the runner.
 * Text that could hold a command goes inside a `::stop-commands::` block whose token is fresh and unguessable
 * (the runner resumes only on `::TOKEN::` and masks the token in the log); other text comes back as it is, so
 * ordinary lines cost nothing. `eol` ends the block's lines; the result ends with it when it was wrapped.
 */
export function plainForRunner(text: string, eol = "\n"): { text: string; wrapped: boolean } {
  if (!COMMAND_LIKE.test(text)) return { text, wrapped: false };
  const token = randomBytes(16).toString("hex");
  const body = text.endsWith("\n") ? text.slice(0, -1) : text;
  return { text: `::stop-commands::${token}${eol}${body}${eol}::${token}::${eol}`, wrapped: true };
}

/**
 * A JSON line whose strings quote the app or the build, made inert for the runner without changing its value:
 * `##[` is the one command form that can appear inside a JSON line (`::` commands must start the line, which a
 * JSON object never does), and `\u005b` is the same `[` to every JSON parser.
 */
export function inertJsonLine(line: string): string {
  return line.replace(/##\[/g, "##\\u005b");
}

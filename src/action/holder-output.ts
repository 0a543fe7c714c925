import { secretScrubber } from "../scrub.js";

/** One write that is exactly one `::add-mask::VALUE` line: how @actions/core's setSecret writes. */
const MASK_WRITE = /^::add-mask::([^\r\n]*)\r?\n$/;

/**
 * The detached holder (`wait: false`) writes to a log file on the runner's disk, not to the runner: nothing
 * there masks secrets, and @actions/core's setSecret prints each one in clear as `::add-mask::VALUE`. So
 * everything the holder writes (stdout and stderr) passes through here first: such a write is learned and
 * dropped (main already masked the same inputs for the runner), and every secret learned so far is
 * scrubbed from each later write. Only a write of that exact shape is learned: text the pull request's build
 * or app printed reaches the log inside a `::stop-commands::` block or without `::` (toolkit's info), so
 * it can neither teach a "secret" (say `::`, to break those blocks) nor hide its own lines.
 */
export function scrubHolderOutput(streams: NodeJS.WriteStream[] = [process.stdout, process.stderr]): void {
  const secrets: string[] = [];
  let scrub = (text: string) => text;
  for (const stream of streams) {
    const write = stream.write.bind(stream) as (chunk: string, ...rest: unknown[]) => boolean;
    stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      const text = typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
      const callback = rest.find((r) => typeof r === "function") as (() => void) | undefined;
      const mask = MASK_WRITE.exec(text);
      if (mask) {
        const value = unescapeCommandData(mask[1] ?? "");
        if (value !== "") {
          secrets.push(value);
          scrub = secretScrubber(secrets);
        }
        if (callback) process.nextTick(callback);
        return true;
      }
      return callback ? write(scrub(text), callback) : write(scrub(text));
    }) as typeof stream.write;
  }
}

/** The inverse of @actions/core's escapeData, which command values go through (%, CR and LF encoded). */
function unescapeCommandData(value: string): string {
  return value.replace(/%0D/g, "\r").replace(/%0A/g, "\n").replace(/%25/g, "%");
}

import parseDuration from "parse-duration";
import { ConfigError } from "../../errors.js";
import type { InputName, Resources } from "../types.js";

/** Units that read naturally in a workflow file: 90s, 30m, 2h, 1h30m. */
export const DURATION_SHAPE = /^(\d+(\.\d+)?(ms|s|m|h))+$/;

export function duration(input: InputName, raw: string, limits: { maxMs: number; maxText: string }): number {
  const text = raw.trim();
  const ms = DURATION_SHAPE.test(text) ? parseDuration(text) : null;
  if (ms === null || ms === undefined || Number.isNaN(ms)) {
    throw new ConfigError(
      input,
      `${input} "${raw}" is not a duration. Write it with units, e.g. 90s, 30m, 2h or 1h30m.`,
    );
  }
  if (ms <= 0) throw new ConfigError(input, `${input} "${raw}" must be longer than zero, e.g. 30m.`);
  if (ms > limits.maxMs) {
    throw new ConfigError(
      input,
      `${input} "${raw}" is longer than the ${limits.maxText} allowed (GitHub-hosted jobs end after 6 h). Use ${limits.maxText} or less.`,
    );
  }
  return ms;
}

export function port(input: InputName, raw: string): number {
  const text = raw.trim();
  const n = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isInteger(n) || n < 1 || n > 65535) {
    throw new ConfigError(
      input,
      `${input} "${raw}" is not a TCP port. Give the port your app listens on inside the container, a number from 1 to 65535 (e.g. 8050).`,
    );
  }
  return n;
}

const TRUE = ["true", "True", "TRUE"];
const FALSE = ["false", "False", "FALSE"];

/** The YAML 1.2 core-schema booleans that @actions/core's getBooleanInput accepts. */
export function boolean(input: InputName, raw: string): boolean {
  const text = raw.trim();
  if (TRUE.includes(text)) return true;
  if (FALSE.includes(text)) return false;
  throw new ConfigError(input, `${input} "${raw}" is not a boolean. Use true or false.`);
}

export function positiveInteger(input: InputName, raw: string, what: string): number {
  const text = raw.trim();
  if (!/^\d+$/.test(text) || Number(text) < 1) {
    throw new ConfigError(input, `${input} "${raw}" is not ${what}: use a whole number such as 12.`);
  }
  return Number(text);
}

/** `pr-sha`: the reviewed commit of `pr-number`, as GitHub shows it (7–40 hex digits), lower case. */
export function commitSha(input: InputName, raw: string, withPrNumber: boolean): string {
  const text = raw.trim().toLowerCase();
  if (!/^[0-9a-f]{7,40}$/.test(text))
    throw new ConfigError(
      input,
      `${input} "${raw}" is not a commit: use the 7 to 40 hex digits GitHub shows for the commit you reviewed, e.g. 3f2a9c1.`,
    );
  if (!withPrNumber)
    throw new ConfigError(
      input,
      `${input} is set without pr-number: set pr-number to the pull request it belongs to.`,
    );
  return text;
}

/** Goes into the comment marker `name="..."` and into Docker names: keep it to safe characters. */
/** A preview name's shape: it goes into markers, Docker names and file names. */
export const PREVIEW_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$/;

export function previewName(raw: string): string {
  const text = raw.trim();
  if (!PREVIEW_NAME.test(text)) {
    throw new ConfigError(
      "name",
      `name "${raw}" cannot be used: it must start with a letter or digit and use only letters, digits, ".", "_" and "-" (at most 40 characters), e.g. "dash-app".`,
    );
  }
  return text;
}

export function healthPath(raw: string): string {
  const text = raw.trim();
  if (!text.startsWith("/") || /\s/.test(text)) {
    throw new ConfigError(
      "health-path",
      `health-path "${raw}" must be a URL path starting with "/", e.g. /healthz.`,
    );
  }
  return text;
}

const UNITS: Record<string, number> = { "": 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };
/** Docker refuses less than 6 MiB. */
const MIN_MEMORY = 6 * 1024 ** 2;

export function memory(raw: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([bkmg]?)b?$/i.exec(raw.trim());
  const bytes = m ? Math.floor(Number(m[1]) * (UNITS[m[2]!.toLowerCase()] ?? Number.NaN)) : Number.NaN;
  if (!Number.isFinite(bytes) || bytes < MIN_MEMORY) {
    throw new ConfigError(
      "memory",
      `memory "${raw}" is not a memory limit Docker accepts. Use a size of at least 6m, Docker style: 512m, 4g, 1.5g.`,
    );
  }
  return bytes;
}

export function cpus(raw: string): number {
  const text = raw.trim();
  const n = /^\d+(\.\d+)?$/.test(text) ? Number(text) : Number.NaN;
  if (!(n > 0) || n > 1024) {
    throw new ConfigError(
      "cpus",
      `cpus "${raw}" is not a CPU limit. Use a positive number of CPUs, e.g. 1.5 or 2.`,
    );
  }
  return Math.round(n * 1e9);
}

export function gpus(raw: string): NonNullable<Resources["gpus"]> {
  const text = raw.trim();
  if (text === "all") return "all";
  if (/^\d+$/.test(text) && Number(text) >= 1) return Number(text);
  throw new ConfigError("gpus", `gpus "${raw}" is not valid. Use "all" or a number of GPUs such as 1.`);
}

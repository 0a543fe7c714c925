import parseDuration from "parse-duration";
import { ConfigError } from "../../errors.js";
import type { InputName } from "../types.js";

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

/** Goes into the comment marker `name="..."` and into Docker names: keep it to safe characters. */
export function previewName(raw: string): string {
  const text = raw.trim();
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$/.test(text)) {
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

import { parseArgsStringToArgv } from "string-argv";
import { ConfigError } from "../../errors.js";
import type { InputName } from "../types.js";

/** Lines of a multi-line input, without blanks and `#` comments. */
export function lines(raw: string): string[] {
  return raw
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
}

/** Comma- or newline-separated values. */
export function items(raw: string): string[] {
  return raw
    .split(/[,\n]/)
    .map((s) => s.trim())
    .filter(Boolean);
}

const KEY = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/** `KEY=VALUE` per line; a value may itself contain "=". `secret` keeps values out of the message. */
export function keyValues(input: InputName, raw: string, secret: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  lines(raw).forEach((line, i) => {
    const eq = line.indexOf("=");
    const key = eq > 0 ? line.slice(0, eq).trim() : "";
    if (!KEY.test(key)) {
      const shown = secret ? (eq > 0 ? `${line.slice(0, eq)}=***` : "(value hidden)") : `"${line}"`;
      throw new ConfigError(
        input,
        `${input} line ${i + 1} ${shown} is not KEY=VALUE. Write one KEY=VALUE per line; keys use letters, digits and "_" and do not start with a digit.`,
      );
    }
    out[key] = line.slice(eq + 1);
  });
  return out;
}

/** Shell-style split so `command: streamlit run app.py --server.port 8501` works as people expect. */
export function argv(input: InputName, raw: string): string[] {
  const args = parseArgsStringToArgv(raw.trim());
  if (args.length === 0)
    throw new ConfigError(input, `${input} is empty: leave it out to use the image's own command.`);
  return args;
}

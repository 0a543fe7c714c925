import { ConfigError } from "../../errors.js";

/**
 * `build-secrets`: BuildKit secret mounts (`RUN --mount=type=secret,id=ID`), the way to give a build a
 * token without baking it into a layer, the history or the build's arguments. One `ID=VALUE` per line,
 * as docker/build-push-action's `secrets`; an entry whose value spans lines (a key file) is quoted as a
 * CSV field: `"ID=line 1` … `last line"`, a `""` inside standing for one `"`. Values are never shown.
 */

/** Ids as docker's `--secret id=` takes them, without the commas and quotes its CSV syntax would split on. */
export const SECRET_ID = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
/** BuildKit's secrets provider refuses larger values (secretsprovider.MaxSecretSize). */
export const MAX_SECRET_BYTES = 500 * 1024;

const HOW =
  'Write one ID=VALUE per line, the ID as your Dockerfile names it in RUN --mount=type=secret,id=ID; quote an entry whose value spans lines: "ID=first line … last line".';

export function buildSecrets(raw: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = raw.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).trim();
    if (line === "" || line.startsWith("#")) continue;
    const at = i + 1;
    let entry = line;
    if (line.startsWith('"')) {
      let text = line.slice(1);
      let close = closingQuote(text);
      while (close < 0 && i + 1 < lines.length) {
        text += `\n${(lines[++i] as string).replace(/\r$/, "")}`;
        close = closingQuote(text);
      }
      if (close < 0 || text.slice(close + 1).trim() !== "")
        throw bad(`build-secrets line ${at} opens a quote that does not close where the entry ends. ${HOW}`);
      entry = text.slice(0, close).replaceAll('""', '"');
    }
    const eq = entry.indexOf("=");
    const id = eq > 0 ? entry.slice(0, eq).trim() : "";
    // Nothing of the line is shown: a line that is no entry may well be part of a secret.
    if (!SECRET_ID.test(id))
      throw bad(
        `build-secrets line ${at} (hidden) is not ID=VALUE with an ID of letters, digits, "_", "." and "-". ${HOW}`,
      );
    if (Object.hasOwn(out, id))
      throw bad(
        `build-secrets gives the secret ${id} twice (line ${at}): give each ID once.`,
        `--build-secret id=${id} is given twice: give each id once.`,
      );
    const value = entry.slice(eq + 1);
    if (Buffer.byteLength(value) > MAX_SECRET_BYTES)
      throw bad(
        `build-secrets: the secret ${id} is larger than 500 KB, BuildKit's limit for a secret. Pass a smaller one (a token, a key), and fetch large files in the build with it.`,
        `--build-secret id=${id} is larger than 500 KB, BuildKit's limit for a secret.`,
      );
    out[id] = value;
  }
  return out;
}

/** Every value of a `build-secrets` input, read leniently (for masking before validation). */
export function buildSecretValues(raw: string): string[] {
  try {
    return Object.values(buildSecrets(raw));
  } catch {
    // Not valid: mask every line's value part and every line whole, so no later message can show one.
    return raw
      .split("\n")
      .flatMap((l) => [l.trim(), l.slice(l.indexOf("=") + 1).trim()])
      .filter((v) => v.replace(/^"|"$/g, "") !== "");
  }
}

/** Where the closing quote of a CSV field is (its opening quote already taken off), or -1. */
function closingQuote(text: string): number {
  for (let j = 0; j < text.length; j++) {
    if (text[j] !== '"') continue;
    if (text[j + 1] === '"') j++;
    else return j;
  }
  return -1;
}

/** One `build-secrets` entry as the CLI passes a `--build-secret` it resolved: quoted, so any value fits. */
export function buildSecretEntry(id: string, value: string): string {
  return `"${`${id}=${value}`.replaceAll('"', '""')}"`;
}

function bad(message: string, cli?: string): ConfigError {
  return new ConfigError("build-secrets", message, cli);
}

/**
 * The one scrubber: every text that leaves the runner where the runner's log masking cannot reach (comments,
 * summaries, outputs, error texts, the container's log lines) goes through it, and it runs BEFORE any cut,
 * so a secret that straddles a cut point never leaves a fragment behind.
 */

/** Lines of a multi-line secret shorter than this are not scrubbed on their own ("}" or "" would be). */
const MIN_SECRET_LINE = 4;

/** A base64 run shorter than this is not scrubbed on its own: 8 characters hold 6 bytes of the secret. */
const MIN_BASE64_RUN = 8;

/**
 * Replaces every secret with `***`: each secret whole, each line of a multi-line secret, their
 * URL-encoded forms (secrets end up in URLs and logs that way) and their base64 forms (see base64Forms).
 * Longest first, so a secret that contains another is removed whole.
 */
export function secretScrubber(secrets: readonly string[]): (text: string) => string {
  const forms = new Set<string>();
  for (const secret of secrets) {
    if (secret === "") continue;
    const lines = secret.split(/\r?\n/).filter((l) => l.length >= MIN_SECRET_LINE);
    for (const form of [secret, ...lines, ...base64Forms(secret)]) {
      forms.add(form);
      forms.add(encodeURIComponent(form));
    }
  }
  const needles = [...forms].sort((a, b) => b.length - a.length);
  if (needles.length === 0) return (text) => text;
  return (text) => needles.reduce((out, needle) => out.split(needle).join("***"), text);
}

/**
 * A secret as it travels in HTTP basic credentials: `base64("x-access-token:" + token)` is the header
 * actions/checkout keeps in .git/config (`AUTHORIZATION: basic <it>`), `base64(secret)` the plain
 * encoding, and the runs of base64 that only the secret's bytes decide at each of the three offsets it
 * can start at inside a longer encoded text (`base64("user:" + password)` in a registry auth, say). A
 * run that short would match by chance, and is left out.
 */
function base64Forms(secret: string): string[] {
  const bytes = Buffer.from(secret);
  const forms = [Buffer.from(`x-access-token:${secret}`).toString("base64"), bytes.toString("base64")];
  for (let shift = 0; shift < 3; shift++) {
    const encoded = Buffer.concat([Buffer.alloc(shift), bytes]).toString("base64");
    // Character c holds bits 6c..6c+5: keep those whose bits all come from the secret's bytes.
    const first = Math.ceil((shift * 8) / 6);
    const end = Math.floor(((shift + bytes.length) * 8) / 6);
    if (end - first >= MIN_BASE64_RUN) forms.push(encoded.slice(first, end));
  }
  return forms;
}

export function scrubSecrets(text: string, secrets: readonly string[]): string {
  return secretScrubber(secrets)(text);
}

/**
 * At most `max` UTF-16 units of `text` (then `more` appended), never cutting a character in half: a cut
 * between the two halves of a surrogate pair (an emoji, many CJK extensions) drops the lone high half.
 * Scrub first: cutting a secret in two would leave a fragment the scrubber no longer recognises.
 */
export function truncate(text: string, max: number, more = " …"): string {
  if (text.length <= max) return text;
  let end = max;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return `${text.slice(0, end)}${more}`;
}

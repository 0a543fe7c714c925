/**
 * The one scrubber: every text that leaves the runner where the runner's log masking cannot reach (comments,
 * summaries, outputs, error texts, the container's log lines) goes through it, and it runs BEFORE any cut,
 * so a secret that straddles a cut point never leaves a fragment behind.
 */

/** Lines of a multi-line secret shorter than this are not scrubbed on their own ("}" or "" would be). */
const MIN_SECRET_LINE = 4;

/**
 * Replaces every secret with `***`: each secret whole, each line of a multi-line secret, and their
 * URL-encoded forms (secrets end up in URLs and logs that way). Longest first, so a secret that contains
 * another is removed whole.
 */
export function secretScrubber(secrets: readonly string[]): (text: string) => string {
  const forms = new Set<string>();
  for (const secret of secrets) {
    if (secret === "") continue;
    const lines = secret.split(/\r?\n/).filter((l) => l.length >= MIN_SECRET_LINE);
    for (const form of [secret, ...lines]) {
      forms.add(form);
      forms.add(encodeURIComponent(form));
    }
  }
  const needles = [...forms].sort((a, b) => b.length - a.length);
  if (needles.length === 0) return (text) => text;
  return (text) => needles.reduce((out, needle) => out.split(needle).join("***"), text);
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

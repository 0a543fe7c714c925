/**
 * Replaces every secret in `text` with `***`, as the runner's log masking does — but for the text that
 * masking cannot reach (comments, summaries, deployment descriptions). Longest first, so a secret that
 * contains another is removed whole; URL-encoded forms too, since secrets end up in URLs and logs that way.
 */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  const forms = new Set<string>();
  for (const secret of secrets) {
    if (secret === "") continue;
    forms.add(secret);
    forms.add(encodeURIComponent(secret));
  }
  let scrubbed = text;
  for (const form of [...forms].sort((a, b) => b.length - a.length)) {
    scrubbed = scrubbed.split(form).join("***");
  }
  return scrubbed;
}

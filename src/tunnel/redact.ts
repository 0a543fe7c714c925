import { scrubSecrets } from "../scrub.js";

/**
 * Text from the SDK or the network with secrets removed. ngrok's own messages quote the token
 * ("Your authtoken: …"), so that pattern goes even when the caller did not pass the token.
 */
export function redact(text: string, secrets: readonly string[]): string {
  return scrubSecrets(text.replace(/(authtoken\s*[:=]\s*)\S+/gi, "$1***"), secrets);
}

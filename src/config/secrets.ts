import type { Inputs } from "./types.js";

/**
 * Env values shorter than this are not treated as secrets: masking "1" or "true" would turn every such
 * string in the log into "***". Real secrets are longer.
 */
export const MIN_ENV_SECRET_LENGTH = 4;

/** Every value that must never be printed: tokens, passwords, and container env values. */
export function collectSecrets(inputs: Inputs, env: Record<string, string>): string[] {
  const out = new Set<string>();
  for (const name of [
    "ngrok-authtoken",
    "registry-password",
    "github-token",
    "oauth-client-secret",
  ] as const) {
    const v = inputs[name]?.trim();
    if (v) out.add(v);
  }
  const basic = inputs["basic-auth"]?.trim();
  if (basic) {
    out.add(basic);
    const password = basic.slice(basic.indexOf(":") + 1);
    if (password) out.add(password);
  }
  for (const v of Object.values(env)) if (v.length >= MIN_ENV_SECRET_LENGTH) out.add(v);
  return [...out];
}

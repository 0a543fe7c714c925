import * as core from "@actions/core";
import { collectSecrets } from "../config/secrets.js";
import type { Inputs } from "../config/types.js";

/**
 * Mask secrets before anything else runs, even before validation, so no later message can print them.
 * Env lines are split leniently here; validation comes after.
 */
export function maskSecretInputs(inputs: Inputs): void {
  const env: Record<string, string> = {};
  for (const line of (inputs.env ?? "").split(/\r?\n/)) {
    const eq = line.indexOf("=");
    if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1).trim();
  }
  for (const secret of collectSecrets(inputs, env)) core.setSecret(secret);
}

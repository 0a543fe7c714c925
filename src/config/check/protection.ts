import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import YAML from "yaml";
import { ConfigError } from "../../errors.js";

export function basicAuth(raw: string): { username: string; password: string } {
  const text = raw.trim();
  const colon = text.indexOf(":");
  if (colon < 1) {
    throw new ConfigError(
      "basic-auth",
      "basic-auth must be user:password (the value is hidden here because it is a secret). Put it in a repository secret and pass `basic-auth: ${{ secrets.PREVIEW_BASIC_AUTH }}`.",
      '--basic-auth must be USER:PASSWORD (the value is hidden here because it is a secret), e.g. --basic-auth "ada:$PREVIEW_PASSWORD".',
    );
  }
  const password = text.slice(colon + 1);
  if (password.length < 8 || password.length > 128) {
    throw new ConfigError(
      "basic-auth",
      `basic-auth password has ${password.length} characters; ngrok requires 8 to 128. Choose a longer password (the value is hidden here because it is a secret).`,
    );
  }
  return { username: text.slice(0, colon), password };
}

/** ngrok's OAuth action providers. */
export const OAUTH_PROVIDERS = [
  "amazon",
  "facebook",
  "github",
  "gitlab",
  "google",
  "linkedin",
  "microsoft",
  "twitch",
];

export function oauthProvider(raw: string): string {
  const text = raw.trim().toLowerCase();
  if (!OAUTH_PROVIDERS.includes(text)) {
    throw new ConfigError(
      "oauth-provider",
      `oauth-provider "${raw}" is not one ngrok supports. Use one of: ${OAUTH_PROVIDERS.join(", ")}.`,
    );
  }
  return text;
}

/** A raw ngrok traffic policy, YAML or JSON (JSON is YAML), that must be a mapping of phases. */
export function trafficPolicy(raw: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = YAML.parse(raw);
  } catch (err) {
    throw new ConfigError(
      "traffic-policy",
      `traffic-policy is neither valid YAML nor JSON (${(err as Error).message.split("\n")[0]}). Give an ngrok traffic policy such as "on_http_request: [...]".`,
    );
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new ConfigError(
      "traffic-policy",
      "traffic-policy must be a YAML or JSON mapping with phases such as on_http_request / on_http_response, not a plain value or list.",
    );
  }
  const phases = ["on_tcp_connect", "on_http_request", "on_http_response"];
  const unknown = Object.keys(parsed).filter((k) => !phases.includes(k));
  if (unknown.length > 0) {
    throw new ConfigError(
      "traffic-policy",
      `traffic-policy has unknown top-level keys ${unknown.join(", ")}. Use the phases ${phases.join(", ")}.`,
    );
  }
  return parsed as Record<string, unknown>;
}

/** PEM text, or a path (relative to the workspace) of a PEM file. */
export function caCert(workspace: string, raw: string): string {
  const text = raw.trim();
  let pem = text;
  if (!text.startsWith("-----BEGIN")) {
    const path = isAbsolute(text) ? text : resolve(workspace, text);
    try {
      pem = existsSync(path) ? readFileSync(path, "utf8") : "";
    } catch {
      pem = "";
    }
    if (pem === "") {
      throw new ConfigError(
        "ngrok-ca-cert",
        `ngrok-ca-cert "${raw}" cannot be read. Give the PEM text itself or the path of a readable PEM file.`,
      );
    }
  }
  if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
    throw new ConfigError(
      "ngrok-ca-cert",
      "ngrok-ca-cert holds no PEM certificate (no -----BEGIN CERTIFICATE----- block). Give the CA certificate of your agent ingress in PEM form.",
    );
  }
  return pem;
}

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
  // ngrok reads credentials as CEL templates (`${…}` is evaluated) and refuses control characters
  // (RFC 7617 #2.1, ERR_NGROK_2257/2258): https://ngrok.com/docs/traffic-policy/actions/basic-auth/
  if ([...text].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)) {
    throw new ConfigError(
      "basic-auth",
      "basic-auth contains a control character, which ngrok refuses in credentials (RFC 7617). Choose a password without control characters (the value is hidden here because it is a secret).",
    );
  }
  if (text.includes("${")) {
    throw new ConfigError(
      "basic-auth",
      "basic-auth contains `${`, which ngrok reads as the start of an expression, not as part of the password. Choose a password without `${` (the value is hidden here because it is a secret).",
    );
  }
  return { username: text.slice(0, colon), password };
}

/** ngrok's OAuth action providers (https://ngrok.com/docs/traffic-policy/actions/oauth/#supported-providers). */
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

/** Providers without an ngrok-managed app: ngrok refuses them without a client id and secret (ERR_NGROK_1633). */
export const UNMANAGED_OAUTH_PROVIDERS = ["amazon", "facebook"];

/** A custom OAuth app: both halves or neither; required where ngrok manages no app. */
export function oauthClient(
  provider: string,
  clientId: string,
  clientSecret: string,
): { clientId?: string; clientSecret?: string } {
  if (clientId !== "" && clientSecret !== "") return { clientId, clientSecret };
  if (clientId !== "" || clientSecret !== "") {
    const missing = clientId === "" ? "oauth-client-id" : "oauth-client-secret";
    throw new ConfigError(
      missing,
      `${missing} is missing: oauth-client-id and oauth-client-secret go together (your own ${provider} OAuth app). Give both, or neither to use ngrok's managed app.`,
    );
  }
  if (UNMANAGED_OAUTH_PROVIDERS.includes(provider)) {
    throw new ConfigError(
      "oauth-client-id",
      `oauth-client-id and oauth-client-secret are required for oauth-provider ${provider}: ngrok has no managed ${provider} app. Create an OAuth app at ${provider} with the callback URL https://idp.ngrok.com/oauth2/callback and pass its id and secret (the secret as a repository secret).`,
    );
  }
  return {};
}

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

import type { OAuthProtection, Protection } from "../config/types.js";

/** One traffic-policy rule: optional name and CEL expressions, then actions run in order. */
export type PolicyRule = Record<string, unknown>;

/**
 * The rules that enforce our protection inputs, in the shapes of ngrok's traffic-policy actions:
 * - restrict-ips: `{type: "restrict-ips", config: {enforce: true, allow: [CIDR…]}}`
 *   (https://ngrok.com/docs/traffic-policy/actions/restrict-ips/; a denied client gets 403 / ERR_NGROK_3205)
 * - basic-auth: `{type: "basic-auth", config: {credentials: ["user:password"]}}`
 *   (https://ngrok.com/docs/traffic-policy/actions/basic-auth/; password 8–128 chars, failure → 401)
 * - oauth: `{type: "oauth", config: {provider: "google"}}` with ngrok's managed app, or with `client_id` /
 *   `client_secret` of the user's own (https://ngrok.com/docs/traffic-policy/actions/oauth/), then a `deny` rule whose expression tests
 *   `actions.ngrok.oauth.identity.email` (https://ngrok.com/docs/guides/share-localhost/auth).
 *
 * The checks without a condition share ONE rule (a rule runs its actions in order and each of these stops
 * the request when it fails), so protections cost at most 2 of the free plan's 5 rules.
 * Order: IP check first (a denied address never sees a login prompt), then the one sign-in (basic auth or
 * OAuth: ngrok allows one auth action per endpoint).
 */
export function protectionRules(protection: Protection): PolicyRule[] {
  const actions: Record<string, unknown>[] = [];
  if (protection.allowCidrs.length > 0) {
    actions.push({ type: "restrict-ips", config: { enforce: true, allow: [...protection.allowCidrs] } });
  }
  if (protection.basicAuth) {
    const { username, password } = protection.basicAuth;
    actions.push({ type: "basic-auth", config: { credentials: [`${username}:${password}`] } });
  }
  if (protection.oauth) {
    const { provider, clientId, clientSecret } = protection.oauth;
    const app = clientId && clientSecret ? { client_id: clientId, client_secret: clientSecret } : {};
    actions.push({ type: "oauth", config: { provider, ...app } });
  }
  const rules: PolicyRule[] = [];
  if (actions.length > 0) rules.push({ name: "ml-preview protections", actions });
  const allowList = oauthAllowListRule(protection.oauth);
  if (allowList) rules.push(allowList);
  return rules;
}

/**
 * Everyone OAuth let in but who is neither an allowed email nor in an allowed domain gets 403. E-mail
 * addresses are matched without regard to case (providers return `Ada@Example.com` as the user typed it):
 * the identity is lowered with CEL's `lowerAscii()` (https://ngrok.com/docs/traffic-policy/macros/) and
 * the list is lowered here.
 */
function oauthAllowListRule(oauth: OAuthProtection | undefined): PolicyRule | undefined {
  if (!oauth || (oauth.allowEmails.length === 0 && oauth.allowDomains.length === 0)) return undefined;
  const email = "actions.ngrok.oauth.identity.email.lowerAscii()";
  const lower = (s: string) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());
  const allowed: string[] = [];
  if (oauth.allowEmails.length > 0)
    allowed.push(`${email} in [${oauth.allowEmails.map((e) => celString(lower(e))).join(", ")}]`);
  for (const domain of oauth.allowDomains) {
    allowed.push(`${email}.endsWith(${celString(`@${lower(domain.replace(/^@/, ""))}`)})`);
  }
  return {
    name: "ml-preview oauth allow-list",
    expressions: [`!(${allowed.join(" || ")})`],
    actions: [{ type: "deny", config: { status_code: 403 } }],
  };
}

/** A single-quoted CEL string literal; quotes and backslashes escaped so an input cannot break out of it. */
export function celString(value: string): string {
  return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/** Names of the protections in force (never their values: the policy itself holds the password). */
export function describeProtection(p: Protection): string {
  const names = protectionNames(p);
  return names.length > 0 ? `, protected by ${names.join(", ")}` : ", unprotected";
}

export function protectionNames(p: Protection): string[] {
  return [
    p.allowCidrs.length > 0 ? `IP allow-list (${p.allowCidrs.length})` : "",
    p.basicAuth ? "basic auth" : "",
    p.oauth ? `OAuth (${p.oauth.provider})` : "",
    p.trafficPolicy ? "your traffic policy" : "",
  ].filter((n) => n !== "");
}

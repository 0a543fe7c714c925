import { ConfigError } from "../errors.js";
import type { OAuthProtection, Protection } from "./types.js";

/**
 * "Traffic Policy rules (per policy): 5" on the free plan (https://ngrok.com/docs/pricing-limits/free-plan-limits/).
 * Paid plans allow more, so this is a warning before the bind, never a refusal: ngrok's own refusal
 * (ERR_NGROK_2264) is explained by the error map.
 */
export const FREE_PLAN_MAX_RULES = 5;

const PHASES = ["on_tcp_connect", "on_http_request", "on_http_response"] as const;

/** ngrok allows one of these per endpoint (ERR_NGROK_2239, https://ngrok.com/docs/errors/err_ngrok_2239). */
export const AUTH_ACTIONS = ["basic-auth", "oauth", "oidc", "saml", "jwt-validation"];

/** The protection inputs that add an auth action, by the action they add. */
const AUTH_INPUT: Record<string, { input: string; isSet: (p: Protection) => boolean }> = {
  "basic-auth": { input: "basic-auth", isSet: (p) => p.basicAuth !== undefined },
  oauth: { input: "oauth-provider", isSet: (p) => p.oauth !== undefined },
};

/**
 * The ONE traffic policy for the endpoint: protection inputs plus the raw `traffic-policy` input.
 * Merge rule: our protection rules come first in `on_http_request` (so nothing in the user's policy runs
 * for a visitor who has not passed them), then the user's `on_http_request` rules in their order; every
 * other phase of the user's policy is copied unchanged. Refused here, because ngrok would refuse the bind
 * or silently bypass the protection: two auth actions on the endpoint (one from the inputs, one from
 * traffic-policy, or two from either), the user's own `restrict-ips` beside `allow-cidrs`, and an
 * `on_tcp_connect` forward beside a protection input. Pure: throws ConfigError naming the inputs to fix;
 * returns undefined when there is no policy.
 */
export function buildTrafficPolicy(protection: Protection): Record<string, unknown> | undefined {
  checkInputAuth(protection);
  const ours = protectionRules(protection);
  const user = protection.trafficPolicy;
  if (user === undefined) return ours.length > 0 ? { on_http_request: ours } : undefined;
  checkPhases(user);
  checkUserAuth(user, protection);
  if (ours.length === 0) return { ...user };
  if ("inbound" in user || "outbound" in user) {
    throw new ConfigError(
      "traffic-policy",
      "traffic-policy uses ngrok's old `inbound`/`outbound` format, which cannot be combined with basic-auth, " +
        "oauth-provider or allow-cidrs. Rewrite it with `on_http_request` / `on_http_response` phases.",
    );
  }
  checkBypass(user, protection);
  const userRequestRules = (user.on_http_request as PolicyRule[] | undefined) ?? [];
  return { ...user, on_http_request: [...ours, ...userRequestRules] };
}

/** Rules of a policy, counted as ngrok counts them against the plan's per-policy limit. */
export function countRules(policy: Readonly<Record<string, unknown>>): number {
  return Object.values(policy).reduce<number>((n, rules) => n + (Array.isArray(rules) ? rules.length : 0), 0);
}

/** A pre-flight warning when the policy is over the free plan's rule limit; undefined when it is not. */
export function ruleLimitWarning(policy: Readonly<Record<string, unknown>> | undefined): string | undefined {
  const rules = policy === undefined ? 0 : countRules(policy);
  if (rules <= FREE_PLAN_MAX_RULES) return undefined;
  return (
    `The traffic policy has ${rules} rules; ngrok's free plan allows ${FREE_PLAN_MAX_RULES} per policy, so a ` +
    "free account's bind will be refused (ERR_NGROK_2264). Merge rules in traffic-policy (one rule can run " +
    "several actions) if this account is on the free plan."
  );
}

function checkInputAuth(p: Protection): void {
  if (p.basicAuth && p.oauth) {
    throw new ConfigError(
      "basic-auth",
      "basic-auth and oauth-provider are both set, but ngrok allows one sign-in (auth action) per endpoint " +
        "and refuses the tunnel otherwise (ERR_NGROK_2239). Keep one of them; allow-cidrs can go with either.",
    );
  }
}

function checkPhases(policy: Readonly<Record<string, unknown>>): void {
  for (const phase of PHASES) {
    const rules = policy[phase];
    if (rules === undefined) continue;
    if (!Array.isArray(rules) || rules.some((r) => typeof r !== "object" || r === null || Array.isArray(r))) {
      throw new ConfigError(
        "traffic-policy",
        `traffic-policy: \`${phase}\` must be a list of rules (objects).`,
      );
    }
  }
}

/** Every action's type in a policy, with its phase, in order. */
function actionsOf(policy: Readonly<Record<string, unknown>>): { phase: string; type: string }[] {
  const out: { phase: string; type: string }[] = [];
  for (const [phase, rules] of Object.entries(policy)) {
    if (!Array.isArray(rules)) continue;
    for (const rule of rules as PolicyRule[]) {
      const actions = Array.isArray(rule?.actions) ? (rule.actions as unknown[]) : [];
      for (const action of actions) {
        const type = (action as { type?: unknown } | null)?.type;
        if (typeof type === "string") out.push({ phase, type });
      }
    }
  }
  return out;
}

function checkUserAuth(policy: Readonly<Record<string, unknown>>, protection: Protection): void {
  const auth = actionsOf(policy).filter((a) => AUTH_ACTIONS.includes(a.type));
  const input = Object.values(AUTH_INPUT).find((s) => s.isSet(protection))?.input;
  if (auth.length > 0 && input) {
    throw new ConfigError(
      "traffic-policy",
      `traffic-policy has its own \`${auth[0]?.type}\` action while the \`${input}\` input adds another ` +
        "sign-in, but ngrok allows one auth action per endpoint and refuses the tunnel otherwise " +
        `(ERR_NGROK_2239). Keep one: remove \`${input}\`, or remove that action from traffic-policy.`,
    );
  }
  if (auth.length > 1) {
    throw new ConfigError(
      "traffic-policy",
      `traffic-policy has ${auth.length} auth actions (${auth.map((a) => a.type).join(", ")}), but ngrok ` +
        "allows one per endpoint and refuses the tunnel otherwise (ERR_NGROK_2239). Keep one.",
    );
  }
}

function checkBypass(policy: Readonly<Record<string, unknown>>, protection: Protection): void {
  const inputs = [
    protection.allowCidrs.length > 0 ? "allow-cidrs" : "",
    protection.basicAuth ? "basic-auth" : "",
    protection.oauth ? "oauth-provider" : "",
  ].filter((n) => n !== "");
  for (const { phase, type } of actionsOf(policy)) {
    if (type === "restrict-ips" && protection.allowCidrs.length > 0) {
      throw new ConfigError(
        "traffic-policy",
        `traffic-policy has its own \`restrict-ips\` action in ${phase} while the \`allow-cidrs\` input is ` +
          "set too, so both would apply. Keep one: remove `allow-cidrs`, or remove that action from traffic-policy.",
      );
    }
    // on_tcp_connect runs before on_http_request: a connection forwarded there never meets our rules.
    if (phase === "on_tcp_connect" && type === "forward-internal") {
      throw new ConfigError(
        "traffic-policy",
        `traffic-policy forwards connections in on_tcp_connect (\`forward-internal\`), which runs before the ` +
          `HTTP rules that enforce ${inputs.join(", ")}, so visitors would bypass them. Move the forward to ` +
          `on_http_request (after our rules), or drop ${inputs.join(", ")}.`,
      );
    }
  }
}

// ── The rules each protection input adds, and their names.

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

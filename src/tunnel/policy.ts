import type { Protection } from "../config/types.js";
import { ConfigError } from "../errors.js";
import { type PolicyRule, protectionRules } from "./protection-rules.js";

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

import type { Protection } from "../config/types.js";
import { ConfigError } from "../errors.js";
import { type PolicyRule, protectionRules } from "./protection-rules.js";

/** "Traffic Policy Rules per Policy: 5" on the free plan (https://ngrok.com/docs/pricing-limits/free-plan-limits/). */
export const FREE_PLAN_MAX_RULES = 5;

const PHASES = ["on_tcp_connect", "on_http_request", "on_http_response"] as const;

/** Which input each generated action comes from, for conflict messages. */
const ACTION_INPUT: Record<string, { input: string; isSet: (p: Protection) => boolean }> = {
  "restrict-ips": { input: "allow-cidrs", isSet: (p) => p.allowCidrs.length > 0 },
  "basic-auth": { input: "basic-auth", isSet: (p) => p.basicAuth !== undefined },
  oauth: { input: "oauth-provider", isSet: (p) => p.oauth !== undefined },
};

/**
 * The ONE traffic policy for the endpoint: protection inputs plus the raw `traffic-policy` input.
 * Merge rule: our protection rules come first in `on_http_request` (so nothing in the user's policy runs
 * for a visitor who has not passed them), then the user's `on_http_request` rules in their order; every
 * other phase of the user's policy is copied unchanged. A user action of the same kind as a protection
 * input (basic-auth, oauth, restrict-ips) is a conflict and an error, as is going over the free plan's
 * 5 rules. Pure: throws ConfigError naming the input to fix; returns undefined when there is no policy.
 */
export function buildTrafficPolicy(protection: Protection): Record<string, unknown> | undefined {
  const ours = protectionRules(protection);
  const user = protection.trafficPolicy;
  if (user === undefined) return ours.length > 0 ? { on_http_request: ours } : undefined;
  checkPhases(user);
  if (ours.length === 0) {
    checkRuleLimit(0, countRules(user));
    return { ...user };
  }
  if ("inbound" in user || "outbound" in user) {
    throw new ConfigError(
      "traffic-policy",
      "traffic-policy uses ngrok's old `inbound`/`outbound` format, which cannot be combined with basic-auth, " +
        "oauth-provider or allow-cidrs. Rewrite it with `on_http_request` / `on_http_response` phases.",
    );
  }
  checkConflicts(user, protection);
  checkRuleLimit(ours.length, countRules(user));
  const userRequestRules = (user.on_http_request as PolicyRule[] | undefined) ?? [];
  return { ...user, on_http_request: [...ours, ...userRequestRules] };
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

function checkConflicts(policy: Readonly<Record<string, unknown>>, protection: Protection): void {
  for (const phase of PHASES) {
    for (const rule of (policy[phase] as PolicyRule[] | undefined) ?? []) {
      const actions = Array.isArray(rule.actions) ? (rule.actions as unknown[]) : [];
      for (const action of actions) {
        const type = (action as { type?: unknown } | null)?.type;
        const source = typeof type === "string" ? ACTION_INPUT[type] : undefined;
        if (source?.isSet(protection)) {
          throw new ConfigError(
            "traffic-policy",
            `traffic-policy has its own \`${type}\` action in ${phase} while the \`${source.input}\` input is ` +
              `set too, so both would apply. Keep one: remove \`${source.input}\`, or remove that action ` +
              "from traffic-policy.",
          );
        }
      }
    }
  }
}

function countRules(policy: Readonly<Record<string, unknown>>): number {
  return Object.values(policy).reduce<number>((n, rules) => n + (Array.isArray(rules) ? rules.length : 0), 0);
}

function checkRuleLimit(ours: number, theirs: number): void {
  if (ours + theirs <= FREE_PLAN_MAX_RULES) return;
  const parts = [`traffic-policy has ${theirs}`];
  if (ours > 0) {
    parts.unshift(
      `basic-auth / allow-cidrs / oauth-provider / oauth-allow-emails / oauth-allow-domains add ${ours}`,
    );
  }
  throw new ConfigError(
    "traffic-policy",
    `The traffic policy would have ${ours + theirs} rules, but ngrok's free plan allows ${FREE_PLAN_MAX_RULES} ` +
      `per policy (${parts.join("; ")}). Merge rules in traffic-policy (one rule can run several actions) ` +
      "or drop a protection input.",
  );
}

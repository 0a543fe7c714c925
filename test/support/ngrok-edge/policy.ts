/**
 * Traffic policies as ngrok's edge checks them at bind time: phases, action types per phase and their
 * config keys, CEL expressions (parsed by @bufbuild/cel, the implementation tested against cel-spec's
 * conformance suite; variables limited to ngrok's), at most one auth action per endpoint, and the plan's
 * rule cap. Each refusal is ngrok's own code and message (https://ngrok.com/docs/errors/, ERR_NGROK_22xx).
 * Facts per action from https://ngrok.com/docs/traffic-policy/actions/ (supported phases, configuration
 * fields); keys of nested fields are accepted at the top too, so a typo in a top-level key is refused
 * while a valid policy never is.
 */
import { type CelEnv, celEnv, isCelError, parse, plan } from "@bufbuild/cel";
import { strings } from "@bufbuild/cel/ext";

type Json = Record<string, unknown>;
type Phase = "on_tcp_connect" | "on_http_request" | "on_http_response" | "on_event_stream_message";
const TCP: Phase = "on_tcp_connect";
const REQ: Phase = "on_http_request";
const RES: Phase = "on_http_response";

interface ActionSpec {
  phases: Phase[];
  /** Config keys ngrok knows; undefined: not modelled here, any key passes. */
  keys?: string[];
}

const ACTIONS: Record<string, ActionSpec> = {
  "add-headers": { phases: [REQ, RES], keys: ["headers"] },
  "basic-auth": { phases: [REQ], keys: ["credentials", "enforce", "realm"] },
  "circuit-breaker": {
    phases: [REQ],
    keys: [
      "enforce",
      "error_threshold",
      "num_buckets",
      "tripped_duration",
      "volume_threshold",
      "window_duration",
    ],
  },
  "close-connection": { phases: [REQ, TCP], keys: [] },
  "compress-response": { phases: [RES], keys: ["algorithms"] },
  "custom-response": { phases: [REQ, RES], keys: ["body", "headers", "status_code"] },
  deny: { phases: [TCP, REQ], keys: ["status_code"] },
  "forward-internal": { phases: [TCP, REQ], keys: ["on_error", "url", "binding"] },
  "http-request": {
    phases: [REQ, RES],
    keys: [
      "body",
      "headers",
      "max_redirects",
      "method",
      "on_error",
      "query_params",
      "retry_condition",
      "timeout",
      "url",
    ],
  },
  "jwt-validation": {
    phases: [REQ],
    keys: ["allow_list", "allowed_algorithms", "audience", "http", "issuer", "jws", "keys", "tokens"],
  },
  log: { phases: [TCP, REQ, RES], keys: ["metadata"] },
  oauth: {
    phases: [REQ],
    keys: [
      "allow_cors_preflight",
      "auth_cookie_domain",
      "auth_id",
      "authz_url_params",
      "client_id",
      "client_secret",
      "idle_session_timeout",
      "max_session_duration",
      "provider",
      "scopes",
      "userinfo_refresh_interval",
    ],
  },
  oidc: {
    phases: [REQ],
    keys: [
      "allow_cors_preflight",
      "auth_cookie_domain",
      "auth_id",
      "authz_url_params",
      "client_id",
      "client_secret",
      "idle_session_duration",
      "issuer_url",
      "max_session_duration",
      "scopes",
      "userinfo_refresh_interval",
    ],
  },
  "owasp-crs-request": { phases: [REQ], keys: ["exclude_rule_ids", "on_error", "process_body"] },
  "owasp-crs-response": { phases: [RES], keys: ["exclude_rule_ids", "on_error", "process_body"] },
  "rate-limit": { phases: [REQ], keys: ["algorithm", "bucket_key", "capacity", "enforce", "name", "rate"] },
  redirect: { phases: [REQ], keys: ["from", "headers", "status_code", "to"] },
  "remove-headers": { phases: [REQ, RES], keys: ["headers"] },
  "request-body-find-replace": {
    phases: [REQ],
    keys: ["from", "matched_content", "replacement_index", "replacements", "to"],
  },
  "response-body-find-replace": {
    phases: [RES],
    keys: ["from", "matched_content", "replacement_index", "replacements", "to"],
  },
  "restrict-ips": { phases: [REQ, RES, TCP], keys: ["allow", "deny", "enforce", "ip_policies"] },
  saml: { phases: [REQ] },
  "set-vars": { phases: [REQ, RES, TCP], keys: ["vars"] },
  "sse-find-replace": { phases: ["on_event_stream_message"] },
  "terminate-tls": {
    phases: [TCP],
    keys: [
      "max_version",
      "min_version",
      "mutual_tls_certificate_authorities",
      "mutual_tls_verification_strategy",
      "server_certificate",
      "server_private_key",
    ],
  },
  "url-rewrite": { phases: [REQ], keys: ["from", "to"] },
  "verify-webhook": { phases: [REQ], keys: ["enforce", "provider", "secret"] },
  "ai-gateway": { phases: [REQ] },
};

const PHASES: Phase[] = [TCP, REQ, RES, "on_event_stream_message"];
/** One of these per endpoint (ERR_NGROK_2239). */
export const AUTH_ACTIONS = ["basic-auth", "oauth", "oidc", "saml", "jwt-validation"];
/** https://ngrok.com/docs/traffic-policy/actions/oauth/#supported-providers */
const OAUTH_MANAGED = ["github", "gitlab", "google", "linkedin", "microsoft", "twitch"];
const OAUTH_UNMANAGED = ["amazon", "facebook"];
/** The roots of ngrok's traffic-policy variables (https://ngrok.com/docs/traffic-policy/variables/). */
const VARIABLE_ROOTS = ["req", "res", "conn", "endpoint", "time", "actions", "vars"];
/** CEL's own type names, which an expression may use as values (`type(x) == string`). */
const CEL_TYPES = [
  "bool",
  "bytes",
  "double",
  "dyn",
  "int",
  "list",
  "map",
  "null_type",
  "string",
  "type",
  "uint",
];

export interface PolicyRefusal {
  readonly code: string;
  readonly message: string;
}

export interface PolicyAction {
  readonly type: string;
  readonly config: Json;
}

export interface PolicyRule {
  readonly name?: string;
  readonly expressions: readonly ((vars: Json) => unknown)[];
  readonly actions: readonly PolicyAction[];
}

export type CompiledPolicy = Partial<Record<Phase, PolicyRule[]>>;

class Refused extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

const env: CelEnv = celEnv({ funcs: strings });

/** A parsed CEL expression (ngrok refuses unparsable ones and unknown variables: ERR_NGROK_2200). */
export function compileExpression(text: string, code = 2200): (vars: Json) => unknown {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(text);
  } catch (err) {
    throw new Refused(code, `Invalid policy expression.\nERROR: ${(err as Error).message}`);
  }
  const unknown = freeIdentifiers(parsed.expr).filter(
    (name) => !VARIABLE_ROOTS.includes(name) && !CEL_TYPES.includes(name),
  );
  if (unknown.length > 0) {
    throw new Refused(code, `Invalid policy expression.\nERROR: undeclared reference to '${unknown[0]}'`);
  }
  const run = plan(env, parsed);
  return (vars) => {
    // Bindings are a plain object of variables; their values are CEL maps and lists.
    const bindings = Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, toCel(v)]));
    const result = run(bindings as never);
    return isCelError(result) ? new Error(result.message) : result;
  };
}

/** Identifiers an expression reads from outside (comprehension variables are its own). */
function freeIdentifiers(expr: unknown): string[] {
  const found: string[] = [];
  const locals = new Set<string>();
  const walk = (node: unknown): void => {
    if (node === null || typeof node !== "object") return;
    const kind = (node as { exprKind?: { case?: string; value?: Json } }).exprKind;
    if (kind?.case === "identExpr") found.push(String(kind.value?.name));
    if (kind?.case === "comprehensionExpr") {
      for (const key of ["iterVar", "iterVar2", "accuVar"]) {
        const name = kind.value?.[key];
        if (typeof name === "string" && name !== "") locals.add(name);
      }
    }
    for (const value of Object.values(node)) {
      if (Array.isArray(value)) value.forEach(walk);
      else if (typeof value === "object") walk(value);
    }
  };
  walk(expr);
  return found.filter((name) => !locals.has(name));
}

/** Plain JSON-ish values as CEL values: objects become maps, numbers stay doubles. */
function toCel(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toCel);
  if (value !== null && typeof value === "object") {
    return new Map(Object.entries(value as Json).map(([k, v]) => [k, toCel(v)]));
  }
  return value;
}

/** `${expr}` templates in a string config value, evaluated against the request's variables. */
export function interpolate(text: string, vars: Json): string {
  return text.replace(/\$\{([^}]*)\}/g, (_m, expr: string) => String(compileExpression(expr, 2224)(vars)));
}

/** Validate and compile a policy (JSON or YAML text parsed by the caller) for a plan's rule cap. */
export function compilePolicy(
  policy: unknown,
  maxRules: number,
): { policy: CompiledPolicy } | { refusal: PolicyRefusal } {
  try {
    return { policy: compile(policy, maxRules) };
  } catch (err) {
    if (!(err instanceof Refused)) throw err;
    return { refusal: { code: `ERR_NGROK_${err.code}`, message: err.message } };
  }
}

function compile(policy: unknown, maxRules: number): CompiledPolicy {
  if (!isObject(policy))
    throw new Refused(2236, "The traffic policy was not able to be parsed: not a mapping");
  const compiled: CompiledPolicy = {};
  let rules = 0;
  let auth = 0;
  for (const [phase, list] of Object.entries(policy)) {
    if (!PHASES.includes(phase as Phase)) {
      throw new Refused(2230, `Invalid Traffic Policy phase ${phase} for protocol https.`);
    }
    if (!Array.isArray(list)) {
      throw new Refused(
        2236,
        `The traffic policy was not able to be parsed: ${phase} is not a list of rules`,
      );
    }
    compiled[phase as Phase] = list.map((rule) => compileRule(rule, phase as Phase));
    rules += list.length;
    for (const rule of compiled[phase as Phase] ?? []) {
      auth += rule.actions.filter((a) => AUTH_ACTIONS.includes(a.type)).length;
    }
  }
  if (auth > 1) throw new Refused(2239, "Invalid policy: Only one auth action allowed per endpoint.");
  if (rules > maxRules) {
    throw new Refused(
      2264,
      `Policy configuration has exceeded its rule per policy limit of ${maxRules}. Please check ` +
        "https://ngrok.com/features/traffic-policy to view your options or contact us at support@ngrok.com.",
    );
  }
  return compiled;
}

function compileRule(rule: unknown, phase: Phase): PolicyRule {
  if (!isObject(rule))
    throw new Refused(2236, "The traffic policy was not able to be parsed: a rule is not a mapping");
  const extra = Object.keys(rule).filter((k) => !["name", "expressions", "actions"].includes(k));
  if (extra.length > 0) {
    throw new Refused(2236, `The traffic policy was not able to be parsed: unknown field "${extra[0]}"`);
  }
  const expressions = rule.expressions ?? [];
  if (!Array.isArray(expressions) || expressions.some((e) => typeof e !== "string")) {
    throw new Refused(2236, "The traffic policy was not able to be parsed: expressions must be strings");
  }
  const actions = rule.actions;
  if (!Array.isArray(actions) || actions.length === 0)
    throw new Refused(2206, "A policy must define at least one action.");
  return {
    name: typeof rule.name === "string" ? rule.name : undefined,
    expressions: (expressions as string[]).map((e) => compileExpression(e)),
    actions: actions.map((a) => compileAction(a, phase)),
  };
}

function compileAction(action: unknown, phase: Phase): PolicyAction {
  const type = isObject(action) ? action.type : undefined;
  const spec = typeof type === "string" ? ACTIONS[type] : undefined;
  if (!spec || !isObject(action)) throw new Refused(2201, `Invalid policy action type ${String(type)}.`);
  if (!spec.phases.includes(phase)) {
    throw new Refused(2202, `Action type ${type} is not supported for ${phase} traffic policy rule.`);
  }
  const config = action.config ?? {};
  if (!isObject(config)) {
    throw new Refused(
      2203,
      `Failed to parse the configuration for policy action type ${type}. config is not a mapping`,
    );
  }
  const unknown = spec.keys ? Object.keys(config).filter((k) => !spec.keys!.includes(k)) : [];
  if (unknown.length > 0) {
    throw new Refused(
      2203,
      `Failed to parse the configuration for policy action type ${type}. unknown field "${unknown[0]}"`,
    );
  }
  CHECKS[type as string]?.(config);
  return { type: type as string, config };
}

const CHECKS: Record<string, (config: Json) => void> = {
  "basic-auth": (config) => {
    const credentials = config.credentials;
    if (!Array.isArray(credentials) || credentials.length === 0) {
      throw new Refused(2223, "Invalid configuration for basic-auth: credentials cannot be empty.");
    }
    if (credentials.length > 10) {
      throw new Refused(
        2255,
        "Invalid configuration for basic-auth: Maximum credentials allowed per action is 10",
      );
    }
    for (const credential of credentials) checkCredential(credential);
  },
  oauth: (config) => {
    const provider = config.provider;
    if (typeof provider !== "string" || ![...OAUTH_MANAGED, ...OAUTH_UNMANAGED].includes(provider)) {
      throw new Refused(2204, `Configuration for policy action type oauth has invalid value: provider.`);
    }
    const id = config.client_id !== undefined && config.client_id !== "";
    const secret = config.client_secret !== undefined && config.client_secret !== "";
    if (id !== secret) {
      const [missing, given] = id ? ["client_secret", "client_id"] : ["client_id", "client_secret"];
      throw new Refused(
        2240,
        `Invalid configuration for oauth: ${missing} is required when ${given} is specified`,
      );
    }
    if (!id && OAUTH_UNMANAGED.includes(provider)) {
      throw new Refused(
        1633,
        "Invalid endpoint configuration, unmanaged provider configurations must specify a client ID and a client secret.",
      );
    }
  },
  "restrict-ips": (config) => {
    for (const key of ["allow", "deny"]) {
      const list = config[key] ?? [];
      const bad = Array.isArray(list) ? list.filter((c) => parseCidr(c) === undefined) : [list];
      if (bad.length > 0) throw new Refused(2217, `Invalid CIDR(s): ${bad.join(", ")}.`);
    }
  },
  deny: (config) => checkStatus("deny", config.status_code),
  "custom-response": (config) => checkStatus("custom-response", config.status_code),
};

function checkCredential(credential: unknown): void {
  if (typeof credential !== "string" || !credential.includes(":")) {
    throw new Refused(2222, "Invalid configuration for basic-auth: credentials must be username:password.");
  }
  const colon = credential.indexOf(":");
  const [user, password] = [credential.slice(0, colon), credential.slice(colon + 1)];
  // RFC 7617 #2.1: no control characters in either part.
  const control = (s: string) => [...s].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);
  if (control(user)) {
    throw new Refused(
      2257,
      `Invalid basic auth credential. Username ${user} fails to meet requirements of RFC 7617 #2.1: control character`,
    );
  }
  if (control(password)) {
    throw new Refused(
      2258,
      `Invalid basic auth credential. The password of user ${user} fails to meet requirements of RFC 7617 #2.1: control character`,
    );
  }
  for (const match of credential.matchAll(/\$\{([^}]*)\}/g)) compileExpression(match[1] ?? "", 2224);
  if (!password.includes("${") && (password.length < 8 || password.length > 128)) {
    throw new Refused(
      2237,
      `Invalid configuration for basic-auth: password length of ${password.length} does not satisfy minimum length of 8.`,
    );
  }
}

function checkStatus(action: string, status: unknown): void {
  if (status === undefined) return;
  if (typeof status !== "number" || !Number.isInteger(status) || status < 100 || status > 599) {
    throw new Refused(
      2215,
      `Failed to parse configuration for ${action}: status_code must be between 100 and 599 inclusive, was ${String(status)}.`,
    );
  }
}

/** An IPv4 CIDR (or address) as [network, prefix]; IPv6 is accepted as written. */
export function parseCidr(text: unknown): { v4?: [number, number]; v6?: string } | undefined {
  if (typeof text !== "string") return undefined;
  const [addr, bits] = text.split("/");
  if (addr?.includes(":")) return /^[0-9a-f:]+$/i.test(addr) ? { v6: text } : undefined;
  const parts = (addr ?? "").split(".").map(Number);
  const prefix = bits === undefined ? 32 : Number(bits);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return undefined;
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > 32) return undefined;
  return { v4: [parts.reduce((n, p) => n * 256 + p, 0), prefix] };
}

/** Is an IPv4 address inside a CIDR? (Tests connect from 127.0.0.1; IPv6 CIDRs never match it.) */
export function inCidr(ip: string, cidr: string): boolean {
  const net = parseCidr(cidr)?.v4;
  const addr = parseCidr(ip.replace(/^::ffff:/, ""))?.v4;
  if (!net || !addr) return false;
  const size = 2 ** (32 - net[1]);
  return Math.floor(addr[0] / size) === Math.floor(net[0] / size);
}

function isObject(v: unknown): v is Json {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

import { PreviewError } from "../errors.js";
import { scrubSecrets } from "../scrub.js";

/** What the caller knows that makes a message precise; secrets are scrubbed from anything the SDK said. */
export interface NgrokErrorContext {
  readonly serverAddr?: string;
  readonly domain?: string;
  /** How long we retried an ERR_NGROK_334 collision before giving up. */
  readonly waitedMs?: number;
  readonly secrets?: readonly string[];
}

/** ngrok's page for one of its error codes. */
export const ngrokDocsUrl = (n: number) => `https://ngrok.com/docs/errors/err_ngrok_${n}`;

const TOKEN_PAGE = "https://dashboard.ngrok.com/get-started/your-authtoken";
/** A GitHub Actions expression as the user writes it in a workflow. */
const gh = (expr: string) => `$${"{{"} ${expr} }}`;

const CONCURRENCY =
  "Run one preview at a time per ngrok account: give the workflow a `concurrency:` group " +
  `(e.g. \`group: ml-preview-${gh("github.event.pull_request.number")}\` with \`cancel-in-progress: true\`)`;

const BILLING = "https://dashboard.ngrok.com/billing";
const PLANS = "https://dashboard.ngrok.com/billing/choose-a-plan";

/**
 * What a VISITOR of the public URL meets when the account itself is out of something: ngrok answers with
 * this error page instead of the app. Retrying does not mend any of them within the minute verify waits
 * (734 resets only once traffic slows), so verify and the live link check stop at once with this advice.
 * Facts from https://ngrok.com/docs/errors/ and https://ngrok.com/docs/pricing-limits/free-plan-limits/.
 */
export const VISITOR_PLAN_ERRORS: Record<number, string> = {
  725: `The ngrok account reached its network bandwidth limit for the month; see ${BILLING} for options.`,
  727:
    "The ngrok account reached its HTTP request limit for the month (20,000 on the free plan); see " +
    `${BILLING} for options.`,
  734:
    "The ngrok account exceeded its requests-per-minute limit; it resets within a minute. If it keeps " +
    `happening, upgrade at ${BILLING}.`,
  4026:
    "The ngrok account ran out of credit, which paid traffic-policy actions spend (`allow-cidrs` adds one, " +
    `restrict-ips). Add credit or upgrade at ${BILLING}, or drop allow-cidrs and paid actions from ` +
    "traffic-policy and use the dev domain.",
  4027: `The ngrok account used up its included bandwidth; buy more with remaining credit or upgrade at ${BILLING}.`,
  3208: "ngrok has banned the account that hosts this URL for a Terms of Service violation; contact support@ngrok.com.",
};

/** ngrok's refusals of a traffic policy: the detail (CEL error, field) follows on later lines. */
const isPolicyError = (n: number) => n >= 2200 && n <= 2267;

/** What to do next, per ERR_NGROK code a preview can hit. `said` is ngrok's own (redacted) text. */
const ADVICE: Record<number, (ctx: NgrokErrorContext, said: string) => string> = {
  4018: () =>
    "ngrok needs an authtoken and none was given. Pull requests from forks get no secrets, so a fork PR " +
    "cannot open a tunnel. Add the token as a repository secret named NGROK_AUTHTOKEN and pass " +
    `\`ngrok-authtoken: ${gh("secrets.NGROK_AUTHTOKEN")}\` (CLI: set $NGROK_AUTHTOKEN or --ngrok-authtoken).`,
  105: () =>
    "ngrok rejected the authtoken: it does not look like an ngrok authtoken (an API key or a truncated " +
    `copy?). Copy the authtoken again from ${TOKEN_PAGE} into the NGROK_AUTHTOKEN secret.`,
  107: () =>
    "ngrok rejected the authtoken: it is valid in form but was reset or revoked. Copy the current token " +
    `from ${TOKEN_PAGE} into the NGROK_AUTHTOKEN secret.`,
  108: () =>
    "The ngrok account already runs as many agent sessions as its plan allows (another preview or ngrok " +
    `agent is still online). ${CONCURRENCY}, or stop the other agents.`,
  121: (_ctx, said) =>
    `ngrok refused this ml-preview's ngrok SDK as older than the account allows (${said}). Update ` +
    `ml-preview to its latest release (paid ngrok plans are exempt: ${PLANS}).`,
  313: () =>
    "`ngrok-domain` asks for a custom subdomain, which only paid ngrok plans may use. Remove `ngrok-domain` " +
    `to use the account's dev domain, or upgrade at ${PLANS}.`,
  319: (ctx) =>
    `\`ngrok-domain\`${ctx.domain ? ` ${ctx.domain}` : ""} is not reserved in this ngrok account. Reserve it ` +
    "at https://dashboard.ngrok.com/domains/new (custom domains need a paid plan), or remove `ngrok-domain` " +
    "to use the account's dev domain.",
  324: () =>
    "The ngrok account may not run more endpoints over one agent session. Stop other endpoints or upgrade " +
    "the plan.",
  18021: () =>
    "The ngrok account already has as many endpoints online as its plan allows (3 on the free plan). " +
    `${CONCURRENCY}, or stop other endpoints at https://dashboard.ngrok.com/endpoints.`,
  334: (ctx) =>
    `The URL ${ctx.domain ? `https://${ctx.domain} ` : ""}is already online in another ngrok endpoint` +
    `${ctx.waitedMs ? ` and stayed so for ${Math.round(ctx.waitedMs / 1000)} s` : ""}. On the free plan all ` +
    "endpoints of an account share one dev domain, so a second live preview (another PR, or a previous run " +
    `still closing) collides. ${CONCURRENCY}; on a paid plan each preview can have its own \`ngrok-domain\`.`,
  1633: () =>
    "ngrok has no managed OAuth app for this `oauth-provider`: create your own OAuth app (callback URL " +
    "https://idp.ngrok.com/oauth2/callback) and pass `oauth-client-id` and `oauth-client-secret`.",
  2239: () =>
    "ngrok allows one sign-in (auth action: basic-auth, oauth, oidc, saml, jwt-validation) per endpoint. " +
    "Keep one of `basic-auth`, `oauth-provider` and the auth actions in `traffic-policy`.",
  2256: (_ctx, said) =>
    `ngrok refused the traffic policy: an action in it is not on this account's plan (${said}). Remove it ` +
    `from traffic-policy, or upgrade at ${PLANS}.`,
  2263: () =>
    "ngrok refused the traffic policy: it uses paid traffic-policy features this account's plan does not " +
    `include. Remove them from traffic-policy (or allow-cidrs), or upgrade at ${PLANS}.`,
  2264: (_ctx, said) =>
    `ngrok refused the traffic policy: it has more rules than this account's plan allows (${said}). The ` +
    "free plan allows 5 per policy and the protection inputs add up to 2: merge rules in traffic-policy " +
    "(one rule can run several actions) or drop a protection input.",
  ...Object.fromEntries(
    Object.entries(VISITOR_PLAN_ERRORS).map(([n, advice]) => [Number(n), () => advice] as const),
  ),
};

/** The numeric ERR_NGROK code of an SDK error, from `errorCode` or the message text. */
export function ngrokErrorCode(err: unknown): number | undefined {
  const e = err as { errorCode?: unknown; message?: unknown } | null;
  const text = `${typeof e?.errorCode === "string" ? e.errorCode : ""} ${typeof e?.message === "string" ? e.message : String(err)}`;
  const match = /ERR_NGROK_(\d+)/.exec(text);
  return match ? Number(match[1]) : undefined;
}

/** True for a failure to reach ngrok at all: refused, unresolvable, timed out, TLS never established. */
export function isNetworkFailure(err: unknown): boolean {
  const text =
    err instanceof Error ? `${err.message} ${(err as { code?: unknown }).code ?? ""}` : String(err);
  return /failed to establish (tcp|tls)|ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET|EHOSTUNREACH|ENETUNREACH|timed out|connection refused|dns|resolve/i.test(
    text,
  );
}

/** An SDK error turned into a message that says what happened and what to do; step "tunnel". */
export function explainNgrokError(err: unknown, ctx: NgrokErrorContext = {}): PreviewError {
  if (err instanceof PreviewError) return err;
  const n = ngrokErrorCode(err);
  // A policy refusal's detail (the CEL error, the field) is on the lines after the first: keep them all.
  const text = n !== undefined && isPolicyError(n) ? allLines(err) : firstLine(err);
  const said = redact(text, ctx.secrets ?? []);
  if (n !== undefined) {
    const advice = ADVICE[n]?.(ctx, said) ?? defaultAdvice(n, said);
    return sanitized(`${advice} (ERR_NGROK_${n}, ${ngrokDocsUrl(n)})`, `ERR_NGROK_${n}`, said);
  }
  if (isNetworkFailure(err)) {
    const where = ctx.serverAddr ?? "connect.ngrok-agent.com:443";
    return sanitized(
      `Could not reach ngrok's agent ingress at ${where} (${said}). Check that the runner may open outbound ` +
        "TLS connections to it (proxy, firewall, DNS)" +
        `${ctx.serverAddr ? ", and that `ngrok-server-addr` and `ngrok-ca-cert` are right" : ""}.`,
      "NGROK_UNREACHABLE",
      said,
    );
  }
  return sanitized(`Opening the ngrok tunnel failed: ${said}`, "NGROK_FAILED", said);
}

function defaultAdvice(n: number, said: string): string {
  if (!isPolicyError(n)) return `ngrok refused the tunnel: ${said}`;
  return (
    `ngrok refused the traffic policy:\n${said}\nFix traffic-policy (the protection inputs put their own ` +
    "rules first in on_http_request)."
  );
}

/** The SDK's raw error may quote the authtoken (ERR_NGROK_105 does): keep only a scrubbed copy as cause. */
function sanitized(message: string, code: string, said: string): PreviewError {
  return new PreviewError("tunnel", message, { code, cause: new Error(said) });
}

/** The message's lines without the trailing code line the SDK adds. */
function lines(err: unknown): string[] {
  const text = err instanceof Error ? err.message : String(err);
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !/^ERR_NGROK_\d+$/.test(l));
}

function firstLine(err: unknown): string {
  return lines(err)[0] ?? "unknown error";
}

function allLines(err: unknown): string {
  return lines(err).join("\n") || "unknown error";
}

/**
 * Text from the SDK or the network with secrets removed. ngrok's own messages quote the token
 * ("Your authtoken: …"), so that pattern goes even when the caller did not pass the token.
 */
export function redact(text: string, secrets: readonly string[]): string {
  return scrubSecrets(text.replace(/(authtoken\s*[:=]\s*)\S+/gi, "$1***"), secrets);
}

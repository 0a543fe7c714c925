import { PreviewError } from "../errors.js";
import { redact } from "./redact.js";

/** What the caller knows that makes a message precise; secrets are scrubbed from anything the SDK said. */
export interface NgrokErrorContext {
  readonly serverAddr?: string;
  readonly domain?: string;
  /** How long we retried an ERR_NGROK_334 collision before giving up. */
  readonly waitedMs?: number;
  readonly secrets?: readonly string[];
}

const docs = (n: number) => `https://ngrok.com/docs/errors/err_ngrok_${n}`;

const TOKEN_PAGE = "https://dashboard.ngrok.com/get-started/your-authtoken";
/** A GitHub Actions expression as the user writes it in a workflow. */
const gh = (expr: string) => `$${"{{"} ${expr} }}`;

const CONCURRENCY =
  "Run one preview at a time per ngrok account: give the workflow a `concurrency:` group " +
  `(e.g. \`group: ml-preview-${gh("github.event.pull_request.number")}\` with \`cancel-in-progress: true\`)`;

const PLAN_LIMIT =
  "Your ngrok plan's usage limit is reached; see https://dashboard.ngrok.com/billing to raise it.";

/** What to do next, per ERR_NGROK code a preview can hit. */
const ADVICE: Record<number, (ctx: NgrokErrorContext) => string> = {
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
    `still closing) collides. ${CONCURRENCY}, or give each preview its own \`ngrok-domain\`.`,
  727: () => `The ngrok account reached its monthly HTTP request limit. ${PLAN_LIMIT}`,
  4027: () => `The ngrok account reached a limit of its plan. ${PLAN_LIMIT}`,
  734: () =>
    "The ngrok account exceeded its requests-per-minute limit; wait a minute and re-run, or upgrade.",
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
  const said = redact(firstLine(err), ctx.secrets ?? []);
  const n = ngrokErrorCode(err);
  if (n !== undefined) {
    const advice = ADVICE[n]?.(ctx) ?? `ngrok refused the tunnel: ${said}`;
    return sanitized(`${advice} (ERR_NGROK_${n}, ${docs(n)})`, `ERR_NGROK_${n}`, said);
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

/** The SDK's raw error may quote the authtoken (ERR_NGROK_105 does): keep only a scrubbed copy as cause. */
function sanitized(message: string, code: string, said: string): PreviewError {
  return new PreviewError("tunnel", message, { code, cause: new Error(said) });
}

function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return (
    text
      .split("\n")
      .map((l) => l.trim())
      .find((l) => l !== "") ?? "unknown error"
  );
}

import { PreviewError } from "../errors.js";
import { truncate } from "../scrub.js";

interface HttpFailure {
  status?: number;
  message: string;
  method?: string;
  url?: string;
  /** GitHub's x-accepted-github-permissions: the permission sets that would have worked. */
  accepted?: string;
}

function asHttpFailure(err: unknown): HttpFailure {
  if (err instanceof PreviewError) return { message: err.message };
  const e = (err ?? {}) as {
    status?: unknown;
    message?: unknown;
    request?: { method?: string; url?: string };
    response?: { headers?: Record<string, string | undefined> };
  };
  return {
    status: typeof e.status === "number" ? e.status : undefined,
    message: typeof e.message === "string" ? e.message : String(err),
    method: e.request?.method,
    url: e.request?.url,
    accepted: e.response?.headers?.["x-accepted-github-permissions"],
  };
}

/** The `permissions:` entry a request needs, from its route: what a user must add to the workflow. */
export function permissionFor(method = "GET", url = ""): string {
  const path = url.replace(/^[a-z]+:\/\/[^/]+/i, "").split("?")[0] ?? "";
  const write = method.toUpperCase() !== "GET" && method.toUpperCase() !== "HEAD";
  if (/\/deployments(\/|$)/.test(path)) return write ? "deployments: write" : "deployments: read";
  if (/\/issues\/(\d+\/)?comments/.test(path)) {
    return write ? "pull-requests: write" : "pull-requests: read";
  }
  if (/\/pulls(\/|$)/.test(path)) return write ? "pull-requests: write" : "pull-requests: read";
  return write ? "pull-requests: write" : "contents: read";
}

/**
 * `issues=write; pull_requests=write` → ["issues: write", "pull-requests: write"]: sets separated by `;`
 * (any one set works), permissions within a set by `,`, written the way a workflow's `permissions:` spells them.
 */
export function acceptedPermissions(header: string | undefined): string[] {
  if (!header) return [];
  return header
    .split(";")
    .map((set) =>
      set
        .split(",")
        .map((p) => p.trim().replace(/_/g, "-").replace("=", ": "))
        .filter((p) => p.includes(": "))
        .join(" + "),
    )
    .filter((set) => set !== "");
}

// GitHub error bodies can be a whole HTML page (a 502 from the gateway): keep one short line of it.
function shortReason(message: string): string {
  const text = message
    .replace(/<[^>]*>/g, " ")
    .replace(/\s+/g, " ")
    .trim();
  return truncate(text, 200, "…");
}

/** Turns an Octokit failure into a PreviewError whose message says what to change. `action`: "update the PR comment". */
export function explainGitHubError(err: unknown, action: string): PreviewError {
  if (err instanceof PreviewError) return err;
  const failure = asHttpFailure(err);
  const reason = shortReason(failure.message);
  const make = (code: string, message: string) => new PreviewError("github", message, { code, cause: err });
  switch (failure.status) {
    case 401:
      return make(
        "GITHUB_UNAUTHORIZED",
        `Could not ${action}: GitHub rejected the token (401). Check the \`github-token\` input: the default \`\${{ github.token }}\` works; a personal token may have expired or been revoked.`,
      );
    case 403:
      if (/not accessible by integration|permission/i.test(reason)) {
        const guess = permissionFor(failure.method, failure.url);
        const accepted = acceptedPermissions(failure.accepted);
        const permission = accepted.length === 0 || accepted.includes(guess) ? guess : accepted[0]!;
        const others = accepted.filter((p) => p !== permission);
        return make(
          "GITHUB_PERMISSION",
          `Could not ${action}: GitHub answered 403 "${reason}" — the workflow token lacks a permission. ` +
            `Add \`${permission}\` to the job's \`permissions:\` block` +
            (others.length > 0
              ? ` (GitHub also accepts ${others.map((p) => `\`${p}\``).join(" or ")})`
              : "") +
            ", and keep `contents: read` there " +
            "for actions/checkout (a `permissions:` block turns off everything it does not list). " +
            "A `pull_request` run from a fork always gets a read-only token, whatever the workflow asks for.",
        );
      }
      if (/rate limit/i.test(reason)) {
        return make(
          "GITHUB_RATE_LIMITED",
          `Could not ${action}: GitHub's rate limit was hit (${reason}). Try again later.`,
        );
      }
      return make("GITHUB_FORBIDDEN", `Could not ${action}: GitHub answered 403 "${reason}".`);
    case 404:
      return make(
        "GITHUB_NOT_FOUND",
        `Could not ${action}: GitHub answered 404 (${reason}). Check that the repository and pull request exist and that the token can read them (a private repository needs \`contents: read\`).`,
      );
    case 429:
      return make(
        "GITHUB_RATE_LIMITED",
        `Could not ${action}: GitHub's rate limit was hit (${reason}). Try again later.`,
      );
    case undefined:
    case 500:
      return make(
        "GITHUB_UNREACHABLE",
        `Could not ${action}: GitHub did not answer (${reason}). Check GITHUB_API_URL and the runner's network; GitHub may be having an outage.`,
      );
    default:
      return make("GITHUB_ERROR", `Could not ${action}: GitHub answered ${failure.status} "${reason}".`);
  }
}

/** A failure that may pass by itself: GitHub down or slow (5xx, no answer) or a rate limit. */
export function isTransient(err: unknown): boolean {
  if (err instanceof PreviewError) {
    const status = (err.cause as { status?: number } | undefined)?.status ?? 0;
    return (
      err.code === "GITHUB_UNREACHABLE" ||
      err.code === "GITHUB_RATE_LIMITED" ||
      (err.code === "GITHUB_ERROR" && status >= 500)
    );
  }
  const { status, message } = asHttpFailure(err);
  return status === undefined || status >= 500 || status === 429 || /rate limit/i.test(message);
}

/** First wait between tries of a write that must land; doubled each time, up to the cap. */
const FIRST_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 30_000;

/**
 * Runs `fn` again with back-off while it fails for a reason that passes (isTransient), until `untilMs`
 * (a wall-clock time) or `stop`; then its last error is thrown.
 */
export async function retryWhileTransient<T>(
  fn: () => Promise<T>,
  o: {
    readonly untilMs: number;
    readonly stop?: AbortSignal;
    readonly log: { warning(message: string): void };
    readonly what: string;
  },
): Promise<T> {
  for (let wait = FIRST_BACKOFF_MS; ; wait = Math.min(wait * 2, MAX_BACKOFF_MS)) {
    try {
      return await fn();
    } catch (err) {
      if (!isTransient(err) || o.stop?.aborted || Date.now() + wait > o.untilMs) throw err;
      o.log.warning(
        `${o.what} failed (${(err as Error).message}); trying again in ${Math.round(wait / 1000)} s.`,
      );
      await pause(wait, o.stop);
      if (o.stop?.aborted) throw err;
    }
  }
}

function pause(ms: number, stop?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    stop?.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      stop?.removeEventListener("abort", done);
      resolve();
    }
  });
}

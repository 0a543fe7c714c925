/** What a route answers; the server adds GitHub's common headers. */
export interface Reply {
  status: number;
  /** JSON value; a string is sent as text/html; undefined sends no body (204). */
  body?: unknown;
  headers?: Record<string, string>;
}

export const restDocs = "https://docs.github.com/rest";

// Since 2024 GitHub repeats the status as a string inside error bodies.
function error(status: number, message: string, docs: string, extra: Record<string, unknown> = {}): Reply {
  return { status, body: { message, ...extra, documentation_url: docs, status: String(status) } };
}

export const ok = (body: unknown, status = 200): Reply => ({ status, body });

export const notFound = (docs = restDocs): Reply => error(404, "Not Found", docs);

export const badCredentials = (): Reply => error(401, "Bad credentials", restDocs);

export const requiresAuthentication = (): Reply => error(401, "Requires authentication", restDocs);

export const problemsParsingJson = (): Reply => error(400, "Problems parsing JSON", restDocs);

/** The answer a workflow token without the needed permission (or a fork PR's read-only token) gets. */
export function notAccessible(docs: string, permissions: string): Reply {
  const reply = error(403, "Resource not accessible by integration", docs);
  return { ...reply, headers: { "x-accepted-github-permissions": permissions } };
}

/** A required parameter is missing or has the wrong type. */
export const invalidRequest = (docs: string, detail: string): Reply =>
  error(422, `Invalid request.\n\n${detail}`, docs);

export function validationFailed(docs: string, errors: Array<Record<string, unknown>>): Reply {
  return error(422, "Validation Failed", docs, { errors });
}

export const unprocessable = (docs: string, message: string): Reply => error(422, message, docs);

export const conflict = (docs: string, message: string, errors?: unknown[]): Reply =>
  error(409, message, docs, errors ? { errors } : {});

/** Default bodies for injected faults, worded as GitHub words them. */
export function faultBody(status: number): unknown {
  if (status === 403 || status === 429) {
    return {
      message:
        "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. " +
        "If you reach out to GitHub Support for help, please include the request ID EMUL:0000:0000.",
      documentation_url:
        "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
      status: String(status),
    };
  }
  if (status === 401) return error(401, "Bad credentials", restDocs).body;
  if (status === 404) return error(404, "Not Found", restDocs).body;
  if (status >= 500) return { message: "Server Error" };
  return { message: `Emulated fault ${status}` };
}

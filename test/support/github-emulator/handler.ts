import type { IncomingMessage, ServerResponse } from "node:http";
import type { FaultQueue } from "./faults.js";
import { parseJson, readBody, send } from "./http.js";
import { checkRequest } from "./openapi.js";
import {
  badCredentials,
  invalidRequest,
  notAccessible,
  notFound,
  problemsParsingJson,
  type Reply,
  requiresAuthentication,
  restDocs,
} from "./replies.js";
import { router } from "./router.js";
import { commandRoutes } from "./routes-commands.js";
import { commentRoutes } from "./routes-comments.js";
import { deploymentRoutes } from "./routes-deployments.js";
import { repoRoutes, workflowRunRoutes } from "./routes-repo.js";
import type { Site } from "./shapes.js";
import type { Stalls } from "./stalls.js";
import type { RepoStore } from "./store.js";
import type { PermissionName, RecordedRequest, TokenIdentity } from "./types.js";

export interface HandlerEnv {
  readonly store: RepoStore;
  readonly site: Site;
  readonly faults: FaultQueue;
  readonly stalls: Stalls;
  readonly requests: RecordedRequest[];
  readonly violations: string[];
  readonly tokens: Map<string, TokenIdentity>;
  readonly rate: { limit: number; remaining: number; resetAt: number };
  readOnly(): boolean;
}

const findRoute = router([
  ...repoRoutes,
  ...workflowRunRoutes,
  ...commentRoutes,
  ...commandRoutes,
  ...deploymentRoutes,
]);
// The versions GitHub's REST API accepts in X-GitHub-Api-Version; anything else is a 400.
const apiVersions = ["2022-11-28", "2026-03-10"];

/** Link headers use /repositories/{id}/...; route them like /repos/{owner}/{repo}/.... */
function canonicalPath(site: Site, pathname: string): string {
  const prefix = `/repositories/${site.repoId}`;
  if (pathname === prefix || pathname.startsWith(`${prefix}/`))
    return `/repos/${site.owner}/${site.repo}${pathname.slice(prefix.length)}`;
  return pathname;
}

function tokenOf(header: string | undefined): string | undefined {
  return header ? /^(?:token|bearer)\s+(.+)$/i.exec(header.trim())?.[1] : undefined;
}

const defaults: Record<PermissionName, "read" | "write"> = {
  "pull-requests": "write",
  issues: "write",
  deployments: "write",
  actions: "write",
  contents: "read",
  metadata: "read",
};

/**
 * Does the token hold one of the route's permission sets (`issues=write; pull_requests=write`: either)?
 * Reads need only `read` of the same permissions.
 */
function permitted(env: HandlerEnv, who: TokenIdentity, accepted: string, write: boolean): boolean {
  if (accepted === "" || who.kind === "user") return true;
  const rank = { none: 0, read: 1, write: 2 };
  return accepted.split(";").some((set) =>
    set.split(",").every((entry) => {
      const [raw = "", level = "read"] = entry.trim().split("=");
      const name = raw.replace(/_/g, "-") as PermissionName;
      let held = who.permissions?.[name] ?? defaults[name] ?? "none";
      if (env.readOnly() && held === "write") held = "read";
      const needed = write ? level : "read";
      return rank[held] >= rank[needed as keyof typeof rank];
    }),
  );
}

function primaryLimit(env: HandlerEnv): Reply {
  return {
    status: 403,
    body: {
      message: "API rate limit exceeded for installation ID 1.",
      documentation_url: "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
      status: "403",
    },
    headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(env.rate.resetAt) },
  };
}

interface Incoming {
  method: string;
  url: URL;
  pathname: string;
  body: unknown;
  token?: string;
  version?: string;
}

function answer(env: HandlerEnv, req: Incoming): Reply {
  const { method, pathname, body } = req;
  const fault = env.faults.take(method, pathname + req.url.search);
  if (fault) return fault;
  if (req.token === undefined) return requiresAuthentication();
  const who = env.tokens.get(req.token);
  if (!who) return badCredentials();
  if (body instanceof SyntaxError) return problemsParsingJson();
  if (req.version !== undefined && !apiVersions.includes(req.version))
    return {
      status: 400,
      body: {
        message: `API version ${req.version} is not supported.`,
        documentation_url: restDocs,
        status: "400",
      },
    };
  if (env.rate.remaining <= 0) return primaryLimit(env);
  env.rate.remaining -= 1;
  const match = findRoute(method, pathname);
  if (!match) return notFound();
  const { owner, repo } = match.params;
  const sameRepo = (name: string | undefined, expected: string) =>
    name === undefined || name.toLowerCase() === expected.toLowerCase();
  if (!sameRepo(owner, env.site.owner) || !sameRepo(repo, env.site.repo)) return notFound(match.route.docs);
  const write = method !== "GET" && method !== "HEAD";
  if (!permitted(env, who, match.route.permission, write))
    return notAccessible(match.route.docs, match.route.permission);
  return match.route.handle({
    store: env.store,
    site: env.site,
    params: match.params,
    query: req.url.searchParams,
    body,
    path: pathname,
    actor: who.login,
    identity: who,
  });
}

/** The OpenAPI check: a request GitHub's description refuses is recorded (close() fails) and answered 422. */
function validate(env: HandlerEnv, req: Incoming): Reply | undefined {
  const body = req.body instanceof SyntaxError ? undefined : req.body;
  const check = checkRequest(req.method, req.pathname, req.url.searchParams, body);
  if (check.errors.length === 0) return undefined;
  const what = `${req.method} ${req.pathname}${req.url.search}`;
  env.violations.push(`${what} (${check.operation ?? "no such operation"}): ${check.errors.join("; ")}`);
  if (!check.operation) return undefined; // GitHub's own answer to an unknown route is a 404
  return invalidRequest(restDocs, `${check.operation}: ${check.errors.join("; ")}`);
}

export function createHandler(env: HandlerEnv): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  let served = 0;
  return async (req, res) => {
    const url = new URL(req.url ?? "/", env.site.api);
    const pathname = canonicalPath(env.site, url.pathname);
    const text = await readBody(req);
    let body: unknown;
    try {
      body = parseJson(text);
    } catch (err) {
      body = err;
    }
    const method = req.method ?? "GET";
    const token = tokenOf(req.headers.authorization);
    const version = req.headers["x-github-api-version"];
    const incoming: Incoming = {
      method,
      url,
      pathname,
      body,
      token,
      version: typeof version === "string" ? version : undefined,
    };
    const recorded: RecordedRequest = {
      method,
      path: pathname + url.search,
      at: Date.now(),
      actor: token ? env.tokens.get(token)?.login : undefined,
      headers: { ...req.headers },
      ...(body === undefined || body instanceof Error ? {} : { body }),
      status: 0,
    };
    const stalled = await env.stalls.before({ method, path: recorded.path, token, text }, recorded);
    const reply = stalled ?? validate(env, incoming) ?? answer(env, incoming);
    served += 1;
    recorded.status = reply.status;
    env.requests.push(recorded);
    send(res, reply, {
      "x-github-api-version-selected": incoming.version ?? "2022-11-28",
      "x-github-media-type": "github.v3; format=json",
      "x-github-request-id": `EMUL:${served.toString(16).toUpperCase().padStart(8, "0")}`,
      "x-ratelimit-limit": String(env.rate.limit),
      "x-ratelimit-remaining": String(Math.max(0, env.rate.remaining)),
      "x-ratelimit-reset": String(env.rate.resetAt),
      "x-ratelimit-used": String(env.rate.limit - Math.max(0, env.rate.remaining)),
      "x-ratelimit-resource": "core",
    });
  };
}

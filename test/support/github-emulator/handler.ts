import type { IncomingMessage, ServerResponse } from "node:http";
import type { FaultQueue } from "./faults.js";
import { parseJson, readBody, send } from "./http.js";
import {
  badCredentials,
  notAccessible,
  notFound,
  problemsParsingJson,
  type Reply,
  requiresAuthentication,
} from "./replies.js";
import { router } from "./router.js";
import { commentRoutes } from "./routes-comments.js";
import { deploymentRoutes } from "./routes-deployments.js";
import { repoRoutes } from "./routes-repo.js";
import type { Site } from "./shapes.js";
import type { RepoStore } from "./store.js";
import type { RecordedRequest } from "./types.js";

export interface HandlerEnv {
  readonly store: RepoStore;
  readonly site: Site;
  readonly faults: FaultQueue;
  readonly requests: RecordedRequest[];
  readonly token: string;
  readonly actor: string;
  readOnly(): boolean;
}

const findRoute = router([...repoRoutes, ...commentRoutes, ...deploymentRoutes]);
// A workflow GITHUB_TOKEN may make 1,000 requests an hour per repository.
const rateLimit = 1000;

/** Link headers use /repositories/{id}/...; route them like /repos/{owner}/{repo}/.... */
function canonicalPath(site: Site, pathname: string): string {
  const prefix = `/repositories/${site.repoId}`;
  if (pathname === prefix || pathname.startsWith(`${prefix}/`))
    return `/repos/${site.owner}/${site.repo}${pathname.slice(prefix.length)}`;
  return pathname;
}

function checkToken(header: string | undefined, token: string): Reply | undefined {
  if (!header) return requiresAuthentication();
  const m = /^(?:token|bearer)\s+(.+)$/i.exec(header.trim());
  return m?.[1] === token ? undefined : badCredentials();
}

function answer(env: HandlerEnv, req: IncomingMessage, url: URL, pathname: string, body: unknown): Reply {
  const method = req.method ?? "GET";
  const fault = env.faults.take(method, pathname + url.search);
  if (fault) return fault;
  const refused = checkToken(req.headers.authorization, env.token);
  if (refused) return refused;
  if (body instanceof SyntaxError) return problemsParsingJson();
  const match = findRoute(method, pathname);
  if (!match) return notFound();
  const { owner, repo } = match.params;
  const sameRepo = (name: string | undefined, expected: string) =>
    name === undefined || name.toLowerCase() === expected.toLowerCase();
  if (!sameRepo(owner, env.site.owner) || !sameRepo(repo, env.site.repo)) return notFound(match.route.docs);
  if (env.readOnly() && method !== "GET" && method !== "HEAD")
    return notAccessible(match.route.docs, match.route.permission);
  const ctx = {
    store: env.store,
    site: env.site,
    params: match.params,
    query: url.searchParams,
    body,
    path: pathname,
  };
  return match.route.handle({ ...ctx, actor: env.actor });
}

export function createHandler(env: HandlerEnv): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  let used = 0;
  const resetAt = Math.floor(Date.now() / 1000) + 3600;
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
    const reply = answer(env, req, url, pathname, body);
    used += 1;
    env.requests.push({
      method: req.method ?? "GET",
      path: pathname + url.search,
      ...(body === undefined || body instanceof Error ? {} : { body }),
      status: reply.status,
    });
    send(res, reply, {
      "x-github-api-version-selected": "2022-11-28",
      "x-github-media-type": "github.v3; format=json",
      "x-github-request-id": `EMUL:${used.toString(16).toUpperCase().padStart(8, "0")}`,
      "x-ratelimit-limit": String(rateLimit),
      "x-ratelimit-remaining": String(Math.max(0, rateLimit - used)),
      "x-ratelimit-reset": String(resetAt),
      "x-ratelimit-used": String(used),
      "x-ratelimit-resource": "core",
    });
  };
}

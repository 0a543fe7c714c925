import type { Reply } from "./replies.js";
import type { Site } from "./shapes.js";
import type { RepoStore } from "./store.js";
import type { TokenIdentity } from "./types.js";

export interface RouteContext {
  readonly store: RepoStore;
  readonly site: Site;
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  readonly body: unknown;
  /** Path without query, in /repos/{owner}/{repo}/... form. */
  readonly path: string;
  /** Login of the token's actor. */
  readonly actor: string;
  readonly identity: TokenIdentity;
}

export interface Route {
  readonly method: string;
  /** e.g. /repos/:owner/:repo/issues/:issue_number/comments */
  readonly pattern: string;
  /** documentation_url in this route's error bodies. */
  readonly docs: string;
  /** Sent as x-accepted-github-permissions when a read-only token is refused. */
  readonly permission: string;
  handle(ctx: RouteContext): Reply;
}

export interface RouteMatch {
  route: Route;
  params: Record<string, string>;
}

function compile(pattern: string): RegExp {
  const source = pattern.replace(/:(\w+)/g, "(?<$1>[^/]+)");
  return new RegExp(`^${source}/?$`);
}

/** Finds the route for a request; `undefined` means GitHub's plain 404. */
export function router(routes: readonly Route[]): (method: string, path: string) => RouteMatch | undefined {
  const compiled = routes.map((route) => ({ route, regex: compile(route.pattern) }));
  return (method, path) => {
    for (const { route, regex } of compiled) {
      const m = route.method === method ? regex.exec(path) : null;
      if (m) {
        const params: Record<string, string> = {};
        for (const [k, v] of Object.entries(m.groups ?? {})) params[k] = decodeURIComponent(v);
        return { route, params };
      }
    }
    return undefined;
  };
}

/** A positive integer path parameter, or undefined (GitHub answers 404 for `/pulls/abc`). */
export function intParam(ctx: RouteContext, name: string): number | undefined {
  const raw = ctx.params[name] ?? "";
  return /^\d+$/.test(raw) ? Number(raw) : undefined;
}

/** The request body as an object (routes validate its fields). */
export function bodyObject(ctx: RouteContext): Record<string, unknown> {
  const b = ctx.body;
  return b !== null && typeof b === "object" && !Array.isArray(b) ? (b as Record<string, unknown>) : {};
}

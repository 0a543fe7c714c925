import { deploymentShape, statusShape } from "./deployment-shapes.js";
import { createDeployment, createStatus } from "./deployments.js";
import { paginate } from "./pagination.js";
import { notFound, ok, type Reply } from "./replies.js";
import { bodyObject, intParam, type Route, type RouteContext } from "./router.js";
import type { EmulatedDeployment } from "./types.js";

const docs = "https://docs.github.com/rest/deployments";
const permission = "deployments=write";
const listPath = "/repos/:owner/:repo/deployments";
const statusesPath = "/repos/:owner/:repo/deployments/:deployment_id/statuses";

/** A page of `items` (newest first, as GitHub lists deployments and statuses) with its Link header. */
function listReply<T>(ctx: RouteContext, items: T[], rest: string, shape: (item: T) => unknown): Reply {
  const base = `${ctx.site.api}/repositories/${ctx.site.repoId}${rest}`;
  const page = paginate([...items].reverse(), ctx.query, (q) => `${base}?${q}`);
  const reply = ok(page.items.map(shape));
  return page.link ? { ...reply, headers: { link: page.link } } : reply;
}

function withDeployment(ctx: RouteContext, anchor: string, fn: (d: EmulatedDeployment) => Reply): Reply {
  const id = intParam(ctx, "deployment_id");
  const deployment = ctx.store.deployments.find((d) => d.id === id);
  return deployment ? fn(deployment) : notFound(`${docs}/${anchor}`);
}

// Deployments and statuses carry `statuses`/`state`, never a numeric `status`: that marks an error reply.
const isReply = (value: object): value is Reply => typeof (value as { status?: unknown }).status === "number";

export const deploymentRoutes: Route[] = [
  {
    method: "POST",
    pattern: listPath,
    docs: `${docs}/deployments#create-a-deployment`,
    permission,
    handle(ctx) {
      const result = createDeployment(ctx.store, bodyObject(ctx), ctx.actor);
      return isReply(result) ? result : ok(deploymentShape(ctx.site, result), 201);
    },
  },
  {
    method: "GET",
    pattern: listPath,
    docs: `${docs}/deployments#list-deployments`,
    permission,
    handle(ctx) {
      const filters = ["sha", "ref", "task", "environment"] as const;
      const matches = (d: EmulatedDeployment) =>
        filters.every((f) => !ctx.query.has(f) || ctx.query.get(f) === d[f]);
      const items = ctx.store.deployments.filter(matches);
      return listReply(ctx, items, "/deployments", (d) => deploymentShape(ctx.site, d));
    },
  },
  {
    method: "GET",
    pattern: `${listPath}/:deployment_id`,
    docs: `${docs}/deployments#get-a-deployment`,
    permission,
    handle(ctx) {
      return withDeployment(ctx, "deployments#get-a-deployment", (d) => ok(deploymentShape(ctx.site, d)));
    },
  },
  {
    method: "POST",
    pattern: statusesPath,
    docs: `${docs}/statuses#create-a-deployment-status`,
    permission,
    handle(ctx) {
      return withDeployment(ctx, "statuses#create-a-deployment-status", (d) => {
        const result = createStatus(ctx.store, d, bodyObject(ctx));
        return isReply(result) ? result : ok(statusShape(ctx.site, d, result), 201);
      });
    },
  },
  {
    method: "GET",
    pattern: statusesPath,
    docs: `${docs}/statuses#list-deployment-statuses`,
    permission,
    handle(ctx) {
      return withDeployment(ctx, "statuses#list-deployment-statuses", (d) =>
        listReply(ctx, d.statuses, `/deployments/${d.id}/statuses`, (s) => statusShape(ctx.site, d, s)),
      );
    },
  },
];

import { paginate } from "./pagination.js";
import { invalidRequest, notAccessible, notFound, ok, type Reply } from "./replies.js";
import { bodyObject, intParam, type Route, type RouteContext } from "./router.js";
import { labelShape, nodeId, pullShape, repoShape, userShape, workflowRunShape } from "./shapes.js";
import type { EmulatedIssueEvent } from "./types.js";

const labelDocs = "https://docs.github.com/rest/issues/labels";
const labelPermission = "issues=write; pull_requests=write";

export const repoRoutes: Route[] = [
  {
    // An installation token (the workflow's GITHUB_TOKEN, an App's) has no user behind it.
    method: "GET",
    pattern: "/user",
    docs: "https://docs.github.com/rest/users/users#get-the-authenticated-user",
    permission: "",
    handle(ctx) {
      if (ctx.identity.kind === "installation") return notAccessible(this.docs, "");
      return ok(userShape(ctx.site, ctx.actor, "User"));
    },
  },
  {
    method: "GET",
    pattern: "/repos/:owner/:repo",
    docs: "https://docs.github.com/rest/repos/repos#get-a-repository",
    permission: "metadata=read",
    handle(ctx) {
      return ok(repoShape(ctx.site));
    },
  },
  {
    method: "GET",
    pattern: "/repos/:owner/:repo/pulls",
    docs: "https://docs.github.com/rest/pulls/pulls#list-pull-requests",
    permission: "pull_requests=read",
    handle(ctx) {
      const state = ctx.query.get("state") ?? "open";
      const all = [...ctx.store.pulls.values()]
        .filter((p) => state === "all" || p.state === state)
        .sort((a, b) => b.number - a.number);
      const base = `${ctx.site.api}/repos/${ctx.site.owner}/${ctx.site.repo}/pulls`;
      const page = paginate(all, ctx.query, (q) => `${base}?${q}`);
      const reply = ok(page.items.map((p) => pullShape(ctx.site, p)));
      return page.link ? { ...reply, headers: { link: page.link } } : reply;
    },
  },
  {
    method: "GET",
    pattern: "/repos/:owner/:repo/pulls/:pull_number",
    docs: "https://docs.github.com/rest/pulls/pulls#get-a-pull-request",
    permission: "pull_requests=read",
    handle(ctx) {
      const pull = pullOf(ctx, "pull_number");
      return pull ? ok(pullShape(ctx.site, pull)) : notFound(this.docs);
    },
  },
  {
    // Pull requests are issues here: their labels are the issue's.
    method: "GET",
    pattern: "/repos/:owner/:repo/issues/:issue_number/labels",
    docs: `${labelDocs}#list-labels-for-an-issue`,
    permission: labelPermission,
    handle(ctx) {
      const pull = pullOf(ctx, "issue_number");
      return pull ? labelsReply(ctx, pull.labels) : notFound(this.docs);
    },
  },
  {
    method: "POST",
    pattern: "/repos/:owner/:repo/issues/:issue_number/labels",
    docs: `${labelDocs}#add-labels-to-an-issue`,
    permission: labelPermission,
    handle(ctx) {
      const pull = pullOf(ctx, "issue_number");
      if (!pull) return notFound(this.docs);
      const raw = bodyObject(ctx).labels;
      const names = Array.isArray(raw)
        ? raw.map((l) => (typeof l === "string" ? l : (l as { name?: string })?.name))
        : undefined;
      if (!names || names.some((n) => typeof n !== "string"))
        return invalidRequest(this.docs, '"labels" wasn\'t supplied.');
      for (const name of names as string[])
        if (!pull.labels.some((l) => sameLabel(l, name))) {
          pull.labels.push(name);
          ctx.store.labelEvent(pull.number, "labeled", name, ctx.actor);
        }
      return labelsReply(ctx, pull.labels);
    },
  },
  {
    method: "DELETE",
    pattern: "/repos/:owner/:repo/issues/:issue_number/labels/:name",
    docs: `${labelDocs}#remove-a-label-from-an-issue`,
    permission: labelPermission,
    handle(ctx) {
      const pull = pullOf(ctx, "issue_number");
      if (!pull) return notFound(this.docs);
      const name = ctx.params.name ?? "";
      if (!pull.labels.some((l) => sameLabel(l, name))) return labelNotFound(this.docs);
      pull.labels = pull.labels.filter((l) => !sameLabel(l, name));
      ctx.store.labelEvent(pull.number, "unlabeled", name, ctx.actor);
      return labelsReply(ctx, pull.labels);
    },
  },
  {
    // Who added or removed a label, oldest first (the labeled-issue-event shape of GitHub's description).
    method: "GET",
    pattern: "/repos/:owner/:repo/issues/:issue_number/events",
    docs: "https://docs.github.com/rest/issues/events#list-issue-events",
    permission: "issues=read; pull_requests=read",
    handle(ctx) {
      const pull = pullOf(ctx, "issue_number");
      if (!pull) return notFound(this.docs);
      const all = ctx.store.issueEvents.get(pull.number) ?? [];
      const base = `${ctx.site.api}/repos/${ctx.site.owner}/${ctx.site.repo}/issues/${pull.number}/events`;
      const page = paginate(all, ctx.query, (q) => `${base}?${q}`);
      const reply = ok(page.items.map((e) => issueEventShape(ctx, e)));
      return page.link ? { ...reply, headers: { link: page.link } } : reply;
    },
  },
];

function issueEventShape(ctx: RouteContext, e: EmulatedIssueEvent): Record<string, unknown> {
  return {
    id: e.id,
    node_id: nodeId(e.event === "labeled" ? "LE" : "UNLE", e.id),
    url: `${ctx.site.api}/repos/${ctx.site.owner}/${ctx.site.repo}/issues/events/${e.id}`,
    actor: userShape(ctx.site, e.actor),
    event: e.event,
    commit_id: null,
    commit_url: null,
    created_at: e.createdAt,
    performed_via_github_app: null,
    label: { name: e.label, color: "ededed" },
  };
}

/** Whether a run is over: the scheduled sweep asks before it marks a comment ended. */
export const workflowRunRoutes: Route[] = [
  {
    method: "GET",
    pattern: "/repos/:owner/:repo/actions/runs/:run_id",
    docs: "https://docs.github.com/rest/actions/workflow-runs#get-a-workflow-run",
    permission: "actions=read",
    handle(ctx) {
      const id = intParam(ctx, "run_id");
      const run = id === undefined ? undefined : ctx.store.workflowRuns.get(id);
      return run ? ok(workflowRunShape(ctx.site, id!, run)) : notFound(this.docs);
    },
  },
];

/** GitHub's label names are case-insensitive. */
const sameLabel = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

const labelsReply = (ctx: RouteContext, labels: string[]): Reply =>
  ok(labels.map((l) => labelShape(ctx.site, l)));

/** The pull request the path's number names, if the store has it. */
function pullOf(ctx: RouteContext, param: string) {
  const n = intParam(ctx, param);
  return n === undefined ? undefined : ctx.store.pulls.get(n);
}

/** GitHub's answer for removing a label the issue does not carry. */
function labelNotFound(docs: string): Reply {
  return { status: 404, body: { message: "Label does not exist", documentation_url: docs, status: "404" } };
}

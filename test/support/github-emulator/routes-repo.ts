import { notAccessible, notFound, ok } from "./replies.js";
import { intParam, type Route, type RouteContext } from "./router.js";
import { labelShape, pullShape, repoShape } from "./shapes.js";

export const repoRoutes: Route[] = [
  {
    // A workflow's GITHUB_TOKEN is an installation token: it has no user behind it.
    method: "GET",
    pattern: "/user",
    docs: "https://docs.github.com/rest/users/users#get-the-authenticated-user",
    permission: "",
    handle() {
      return notAccessible(this.docs, "");
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
    method: "DELETE",
    pattern: "/repos/:owner/:repo/issues/:issue_number/labels/:name",
    docs: "https://docs.github.com/rest/issues/labels#remove-a-label-from-an-issue",
    permission: "issues=write; pull_requests=write",
    handle(ctx) {
      const pull = pullOf(ctx, "issue_number");
      if (!pull) return notFound(this.docs);
      const name = ctx.params.name ?? "";
      if (!pull.labels.includes(name)) return labelNotFound(this.docs);
      pull.labels = pull.labels.filter((l) => l !== name);
      return ok(pull.labels.map((l) => labelShape(ctx.site, l)));
    },
  },
];

/** The pull request the path's number names, if the store has it. */
function pullOf(ctx: RouteContext, param: string) {
  const n = intParam(ctx, param);
  return n === undefined ? undefined : ctx.store.pulls.get(n);
}

/** GitHub's answer for removing a label the issue does not carry. */
function labelNotFound(docs: string) {
  return { status: 404, body: { message: "Label does not exist", documentation_url: docs, status: "404" } };
}

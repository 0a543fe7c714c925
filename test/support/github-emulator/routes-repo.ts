import { notAccessible, notFound, ok } from "./replies.js";
import { intParam, type Route } from "./router.js";
import { pullShape, repoShape } from "./shapes.js";

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
      const n = intParam(ctx, "pull_number");
      const pull = n === undefined ? undefined : ctx.store.pulls.get(n);
      return pull ? ok(pullShape(ctx.site, pull)) : notFound(this.docs);
    },
  },
];

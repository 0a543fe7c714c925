import { paginate } from "./pagination.js";
import { invalidRequest, notFound, ok, type Reply, validationFailed } from "./replies.js";
import { bodyObject, intParam, type Route, type RouteContext } from "./router.js";
import { commentShape } from "./shapes.js";
import type { EmulatedComment } from "./types.js";

const docs = "https://docs.github.com/rest/issues/comments";
const permission = "issues=write; pull_requests=write";
// GitHub refuses longer comment bodies; a sticky comment full of log lines can hit this.
const maxBody = 65536;

function shape(ctx: RouteContext, comment: EmulatedComment): unknown {
  return commentShape(ctx.site, comment, ctx.store.pulls.has(comment.issueNumber));
}

/** The body field of a create/update, or the 422 GitHub gives for it. */
function checkBody(ctx: RouteContext, anchor: string): string | Reply {
  const body = bodyObject(ctx).body;
  if (typeof body !== "string") return invalidRequest(`${docs}#${anchor}`, '"body" wasn\'t supplied.');
  if (body.length > maxBody) {
    const message = `body is too long (maximum is ${maxBody} characters)`;
    return validationFailed(`${docs}#${anchor}`, [
      { resource: "IssueComment", code: "custom", field: "body", message },
    ]);
  }
  return body;
}

function withComment(ctx: RouteContext, anchor: string, fn: (c: EmulatedComment) => Reply): Reply {
  const id = intParam(ctx, "comment_id");
  const comment = id === undefined ? undefined : ctx.store.comments.get(id);
  return comment ? fn(comment) : notFound(`${docs}#${anchor}`);
}

/**
 * Editing or deleting someone else's comment: GitHub answers an integration (the workflow's token, an App)
 * 403 "Resource not accessible by integration", whatever its permissions.
 */
function authorOnly(ctx: RouteContext, anchor: string, fn: (c: EmulatedComment) => Reply): Reply {
  return withComment(ctx, anchor, (c) => {
    if (c.user === ctx.actor) return fn(c);
    const message =
      ctx.identity.kind === "installation"
        ? "Resource not accessible by integration"
        : "Resource not accessible by personal access token";
    return { status: 403, body: { message, documentation_url: `${docs}#${anchor}`, status: "403" } };
  });
}

const issuePath = "/repos/:owner/:repo/issues/:issue_number/comments";
const commentPath = "/repos/:owner/:repo/issues/comments/:comment_id";

export const commentRoutes: Route[] = [
  {
    method: "GET",
    pattern: issuePath,
    docs: `${docs}#list-issue-comments`,
    permission,
    handle(ctx) {
      const n = intParam(ctx, "issue_number");
      if (n === undefined || !ctx.store.issues.has(n)) return notFound(this.docs);
      const since = ctx.query.get("since");
      const all = ctx.store.commentsOf(n).filter((c) => !since || c.updatedAt >= since);
      const base = `${ctx.site.api}/repositories/${ctx.site.repoId}/issues/${n}/comments`;
      const page = paginate(all, ctx.query, (q) => `${base}?${q}`);
      const reply = ok(page.items.map((c) => shape(ctx, c)));
      return page.link ? { ...reply, headers: { link: page.link } } : reply;
    },
  },
  {
    method: "POST",
    pattern: issuePath,
    docs: `${docs}#create-an-issue-comment`,
    permission,
    handle(ctx) {
      const n = intParam(ctx, "issue_number");
      if (n === undefined || !ctx.store.issues.has(n)) return notFound(this.docs);
      const body = checkBody(ctx, "create-an-issue-comment");
      if (typeof body !== "string") return body;
      const comment = ctx.store.addComment(n, body, ctx.actor);
      const reply = ok(shape(ctx, comment), 201);
      return {
        ...reply,
        headers: {
          location: `${ctx.site.api}/repos/${ctx.site.owner}/${ctx.site.repo}/issues/comments/${comment.id}`,
        },
      };
    },
  },
  {
    method: "GET",
    pattern: commentPath,
    docs: `${docs}#get-an-issue-comment`,
    permission,
    handle(ctx) {
      return withComment(ctx, "get-an-issue-comment", (c) => ok(shape(ctx, c)));
    },
  },
  {
    method: "PATCH",
    pattern: commentPath,
    docs: `${docs}#update-an-issue-comment`,
    permission,
    handle(ctx) {
      return authorOnly(ctx, "update-an-issue-comment", (c) => {
        const body = checkBody(ctx, "update-an-issue-comment");
        return typeof body === "string" ? ok(shape(ctx, ctx.store.editComment(c.id, body))) : body;
      });
    },
  },
  {
    method: "DELETE",
    pattern: commentPath,
    docs: `${docs}#delete-an-issue-comment`,
    permission,
    handle(ctx) {
      return authorOnly(ctx, "delete-an-issue-comment", (c) => {
        ctx.store.deleteComment(c.id);
        return { status: 204 };
      });
    },
  },
];

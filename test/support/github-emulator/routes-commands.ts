import { notFound, ok, type Reply, unprocessable } from "./replies.js";
import { bodyObject, intParam, type Route } from "./router.js";
import { nodeId, userShape } from "./shapes.js";
import { timestamp } from "./store.js";
import type { RepoRole } from "./types.js";

// What PR commands need beyond comments: who may command, and the reactions that acknowledge them.

const REACTIONS = ["+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"];
// role_name → the legacy `permission` GitHub folds it into.
const BASE: Record<RepoRole, string> = {
  admin: "admin",
  maintain: "write",
  write: "write",
  triage: "read",
  read: "read",
};

export const commandRoutes: Route[] = [
  {
    method: "GET",
    pattern: "/repos/:owner/:repo/collaborators/:username/permission",
    docs: "https://docs.github.com/rest/collaborators/collaborators#get-repository-permissions-for-a-user",
    permission: "metadata=read",
    handle(ctx) {
      const login = ctx.params.username ?? "";
      // A public repository: anyone else who exists may read it.
      const role: RepoRole = ctx.store.roles.get(login.toLowerCase()) ?? "read";
      return ok({
        permission: BASE[role],
        role_name: role,
        user: { ...userShape(ctx.site, login), role_name: role },
      });
    },
  },
  {
    method: "POST",
    pattern: "/repos/:owner/:repo/issues/comments/:comment_id/reactions",
    docs: "https://docs.github.com/rest/reactions/reactions#create-reaction-for-an-issue-comment",
    permission: "issues=write; pull_requests=write",
    handle(ctx): Reply {
      const id = intParam(ctx, "comment_id");
      if (id === undefined || !ctx.store.comments.has(id)) return notFound(this.docs);
      const content = bodyObject(ctx).content;
      if (typeof content !== "string" || !REACTIONS.includes(content))
        return unprocessable(this.docs, "Validation Failed");
      const list = ctx.store.reactions.get(id) ?? [];
      ctx.store.reactions.set(id, list);
      const shape = (r: (typeof list)[number]) => ({
        id: r.id,
        node_id: nodeId("REA", r.id),
        user: userShape(ctx.site, r.user),
        content: r.content,
        created_at: r.createdAt,
      });
      // The same person's same reaction again: 200 with the existing one.
      const existing = list.find((r) => r.user === ctx.actor && r.content === content);
      if (existing) return ok(shape(existing));
      const reaction = { id: ctx.store.newId(), user: ctx.actor, content, createdAt: timestamp() };
      list.push(reaction);
      return ok(shape(reaction), 201);
    },
  },
];

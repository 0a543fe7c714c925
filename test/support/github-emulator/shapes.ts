import type { PullRecord } from "./store.js";
import type { EmulatedComment } from "./types.js";

/** Where the emulated repository lives: API base (the emulator) and web base (github.com). */
export interface Site {
  readonly api: string;
  readonly web: string;
  readonly owner: string;
  readonly repo: string;
  readonly repoId: number;
}

type Json = Record<string, unknown>;

/** GraphQL-style global ids, e.g. IC_kwDOABCD: only their shape matters to clients. */
export function nodeId(prefix: string, id: number): string {
  return `${prefix}_kwDO${Buffer.from(String(id)).toString("base64url")}`;
}

const knownUsers: Record<string, number> = { "github-actions[bot]": 41898282, octocat: 583231 };

function userId(login: string): number {
  const known = knownUsers[login];
  if (known) return known;
  let hash = 7;
  for (const ch of login) hash = (hash * 31 + ch.charCodeAt(0)) % 90_000_000;
  return 10_000_000 + hash;
}

export function userShape(site: Site, login: string, type?: "User" | "Bot" | "Organization"): Json {
  const id = userId(login);
  const kind = type ?? (login.endsWith("[bot]") ? "Bot" : "User");
  return {
    login,
    id,
    node_id: nodeId(kind === "Bot" ? "BOT" : kind === "Organization" ? "O" : "U", id),
    avatar_url: `https://avatars.githubusercontent.com/u/${id}?v=4`,
    url: `${site.api}/users/${encodeURIComponent(login)}`,
    html_url: `${site.web}/${login.replace("[bot]", "")}`,
    type: kind,
    site_admin: false,
  };
}

export function repoShape(site: Site, owner = site.owner, fork = false): Json {
  const id = owner === site.owner ? site.repoId : site.repoId + 1 + userId(owner);
  const fullName = `${owner}/${site.repo}`;
  return {
    id,
    node_id: nodeId("R", id),
    name: site.repo,
    full_name: fullName,
    private: false,
    owner: userShape(site, owner, owner === site.owner ? "Organization" : "User"),
    html_url: `${site.web}/${fullName}`,
    description: null,
    fork,
    url: `${site.api}/repos/${fullName}`,
    default_branch: "main",
    visibility: "public",
    archived: false,
    disabled: false,
  };
}

export function labelShape(site: Site, name: string): Json {
  const id = userId(`label:${name}`);
  const url = `${site.api}/repos/${site.owner}/${site.repo}/labels/${encodeURIComponent(name)}`;
  return { id, node_id: nodeId("LA", id), url, name, color: "ededed", default: false, description: null };
}

export function pullShape(site: Site, pull: PullRecord): Json {
  const repoUrl = `${site.api}/repos/${site.owner}/${site.repo}`;
  const id = site.repoId * 10 + pull.number;
  const headOwner = pull.fork ? "contributor" : site.owner;
  return {
    url: `${repoUrl}/pulls/${pull.number}`,
    id,
    node_id: nodeId("PR", id),
    html_url: `${site.web}/${site.owner}/${site.repo}/pull/${pull.number}`,
    diff_url: `${site.web}/${site.owner}/${site.repo}/pull/${pull.number}.diff`,
    issue_url: `${repoUrl}/issues/${pull.number}`,
    comments_url: `${repoUrl}/issues/${pull.number}/comments`,
    number: pull.number,
    state: pull.state,
    locked: false,
    title: `Emulated pull request #${pull.number}`,
    user: userShape(site, headOwner === site.owner ? "octocat" : headOwner),
    body: null,
    labels: pull.labels.map((name) => labelShape(site, name)),
    draft: false,
    created_at: pull.createdAt,
    updated_at: pull.updatedAt,
    closed_at: pull.closedAt,
    merged_at: pull.mergedAt,
    merge_commit_sha: pull.merged ? `${pull.headSha.slice(0, 20)}${"0".repeat(20)}` : null,
    head: {
      label: `${headOwner}:${pull.headRef}`,
      ref: pull.headRef,
      sha: pull.headSha,
      user: userShape(site, headOwner),
      repo: repoShape(site, headOwner, pull.fork),
    },
    base: {
      label: `${site.owner}:main`,
      ref: "main",
      sha: "0".repeat(40),
      user: userShape(site, site.owner, "Organization"),
      repo: repoShape(site),
    },
    author_association: pull.fork ? "CONTRIBUTOR" : "MEMBER",
    merged: pull.merged,
    mergeable: pull.state === "open" ? true : null,
    merged_by: pull.merged ? userShape(site, "octocat") : null,
  };
}

export function commentShape(site: Site, comment: EmulatedComment, isPull: boolean): Json {
  const repoUrl = `${site.api}/repos/${site.owner}/${site.repo}`;
  const page = `${site.web}/${site.owner}/${site.repo}/${isPull ? "pull" : "issues"}/${comment.issueNumber}`;
  return {
    url: `${repoUrl}/issues/comments/${comment.id}`,
    html_url: `${page}#issuecomment-${comment.id}`,
    issue_url: `${repoUrl}/issues/${comment.issueNumber}`,
    id: comment.id,
    node_id: nodeId("IC", comment.id),
    user: userShape(site, comment.user),
    created_at: comment.createdAt,
    updated_at: comment.updatedAt,
    author_association: comment.user.endsWith("[bot]") ? "NONE" : "MEMBER",
    body: comment.body,
    performed_via_github_app: null,
  };
}

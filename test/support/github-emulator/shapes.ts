import { fakeSha, type PullRecord } from "./store.js";
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
    gravatar_id: "",
    url: `${site.api}/users/${encodeURIComponent(login)}`,
    html_url: `${site.web}/${login.replace("[bot]", "")}`,
    ...userLinks(`${site.api}/users/${encodeURIComponent(login)}`),
    type: kind,
    site_admin: false,
  };
}

/** The *_url fields of a simple-user, as GitHub sends them. */
function userLinks(url: string): Json {
  const links = ["followers", "following{/other_user}", "gists{/gist_id}", "starred{/owner}{/repo}"]
    .concat(["subscriptions", "organizations", "repos", "events{/privacy}", "received_events"])
    .map((link) => [`${link.replace(/\{.*$/, "")}_url`, `${url}/${link}`]);
  return Object.fromEntries(links);
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

// The *_url fields of a minimal-repository (as workflow runs embed it), each under the repository's API URL.
const REPO_LINKS = [
  "archive:{archive_format}{/ref}",
  "assignees{/user}",
  "blobs{/sha}",
  "branches{/branch}",
  "collaborators{/collaborator}",
  "comments{/number}",
  "commits{/sha}",
  "compare{base}...{head}",
  "contents{+path}",
  "contributors",
  "deployments",
  "downloads",
  "events",
  "forks",
  "git_commits:git/commits{/sha}",
  "git_refs:git/refs{/sha}",
  "git_tags:git/tags{/sha}",
  "hooks",
  "issue_comment:issues/comments{/number}",
  "issue_events:issues/events{/number}",
  "issues{/number}",
  "keys{/key_id}",
  "labels{/name}",
  "languages",
  "merges",
  "milestones{/number}",
  "notifications{?since,all,participating}",
  "pulls{/number}",
  "releases{/id}",
  "stargazers",
  "statuses:statuses/{sha}",
  "subscribers",
  "subscription",
  "tags",
  "teams",
  "trees:git/trees{/sha}",
];

/** A minimal-repository: the repository with every link GitHub embeds in a workflow run. */
function minimalRepoShape(site: Site): Json {
  const repo = repoShape(site);
  const links = REPO_LINKS.map((link) => {
    const [name, path = name] = link.split(":") as [string, string?];
    return [`${name.replace(/\{.*$/, "")}_url`, `${repo.url}/${path}`];
  });
  return { ...repo, ...Object.fromEntries(links) };
}

/** GET /repos/{owner}/{repo}/actions/runs/{run_id}: the run of the preview workflow on the default head. */
export function workflowRunShape(
  site: Site,
  id: number,
  run: { status: string; conclusion?: string; attempt?: number; createdAt: string; updatedAt: string },
): Json {
  const url = `${site.api}/repos/${site.owner}/${site.repo}/actions/runs/${id}`;
  const sha = fakeSha(`run:${id}`);
  const who = { name: "octocat", email: "octocat@github.com" };
  return {
    id,
    name: "preview",
    node_id: nodeId("WFR", id),
    head_branch: "feature/model-v2",
    head_sha: sha,
    path: ".github/workflows/preview.yml",
    display_title: "Emulated pull request",
    run_number: id % 1000,
    run_attempt: run.attempt ?? 1,
    event: "pull_request",
    status: run.status,
    conclusion: run.conclusion ?? null,
    workflow_id: 161335,
    url,
    html_url: `${site.web}/${site.owner}/${site.repo}/actions/runs/${id}`,
    pull_requests: [],
    created_at: run.createdAt,
    updated_at: run.updatedAt,
    run_started_at: run.createdAt,
    jobs_url: `${url}/jobs`,
    logs_url: `${url}/logs`,
    check_suite_url: `${site.api}/repos/${site.owner}/${site.repo}/check-suites/${id + 1}`,
    artifacts_url: `${url}/artifacts`,
    cancel_url: `${url}/cancel`,
    rerun_url: `${url}/rerun`,
    workflow_url: `${site.api}/repos/${site.owner}/${site.repo}/actions/workflows/161335`,
    head_commit: {
      id: sha,
      tree_id: fakeSha(`tree:${id}`),
      message: "Emulated commit",
      timestamp: run.createdAt,
      author: who,
      committer: who,
    },
    repository: minimalRepoShape(site),
    head_repository: minimalRepoShape(site),
  };
}

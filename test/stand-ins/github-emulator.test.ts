import { Octokit, RequestError } from "octokit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  emulatorOctokit,
  fastThrottle,
  type GitHubEmulator,
  primaryRateLimit,
  responseErrors,
  secondaryRateLimit,
  startGitHubEmulator,
} from "../support/github-emulator/index.js";

const headSha = "a".repeat(40);
let gh: GitHubEmulator;
let repo: { owner: string; repo: string };

beforeEach(async () => {
  gh = await startGitHubEmulator();
  repo = { owner: gh.owner, repo: gh.repo };
  gh.addPull({ number: 7, headSha, headRef: "feature/model-v2", labels: ["preview"] });
});
afterEach(() => gh.close());

async function rejection(promise: Promise<unknown>): Promise<RequestError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RequestError);
  return err as RequestError;
}

describe("pull requests and repository", () => {
  it("answers pulls.get with GitHub's shape and follows state changes", async () => {
    gh.addPull({ number: 9, headSha: "b".repeat(40), headRef: "patch-1", fork: true });
    const octokit = emulatorOctokit(gh);
    const { data } = await octokit.rest.pulls.get({ ...repo, pull_number: 7 });
    expect(data).toMatchObject({
      number: 7,
      state: "open",
      merged: false,
      html_url: expect.stringContaining("/pull/7"),
    });
    expect(data.head).toMatchObject({
      sha: headSha,
      ref: "feature/model-v2",
      repo: { full_name: "octo-org/ml-app", fork: false },
    });
    expect(data.base.repo.full_name).toBe("octo-org/ml-app");
    expect(data.labels.map((l) => l.name)).toEqual(["preview"]);
    const fork = await octokit.rest.pulls.get({ ...repo, pull_number: 9 });
    expect(fork.data.head.repo).toMatchObject({ fork: true, full_name: "contributor/ml-app" });

    gh.setPullState(7, "closed", true);
    const merged = await octokit.rest.pulls.get({ ...repo, pull_number: 7 });
    expect(merged.data).toMatchObject({ state: "closed", merged: true });
    expect(merged.data.merged_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect((await rejection(octokit.rest.pulls.get({ ...repo, pull_number: 404 }))).status).toBe(404);
  });

  it("serves the repository, refuses /user like a workflow token, and 404s unknown routes", async () => {
    const octokit = emulatorOctokit(gh);
    expect((await octokit.rest.repos.get(repo)).data).toMatchObject({
      full_name: "octo-org/ml-app",
      default_branch: "main",
    });
    const user = await rejection(octokit.rest.users.getAuthenticated());
    expect(user.status).toBe(403);
    expect(user.message).toContain("Resource not accessible by integration");
    expect((await rejection(octokit.request("GET /repos/{owner}/{repo}/nothing-here", repo))).status).toBe(
      404,
    );
    // A route GitHub's description does not have is a test failure (close() throws), not only a 404.
    expect(gh.violations).toEqual([
      expect.stringContaining(
        "no operation in GitHub's REST API answers GET /repos/octo-org/ml-app/nothing-here",
      ),
    ]);
    gh.violations.splice(0);
    expect((await rejection(octokit.rest.repos.get({ owner: "other", repo: "repo" }))).status).toBe(404);
  });
});

describe("workflow runs (actions: read)", () => {
  it("answers a run's status and attempt in GitHub's documented shape, 404 for a run it does not have", async () => {
    const octokit = emulatorOctokit(gh);
    gh.setWorkflowRun(4242, { status: "in_progress" });
    const running = await octokit.rest.actions.getWorkflowRun({ ...repo, run_id: 4242 });
    expect(running.data).toMatchObject({ id: 4242, status: "in_progress", conclusion: null, run_attempt: 1 });
    const path = `/repos/${repo.owner}/${repo.repo}/actions/runs/4242`;
    expect(responseErrors("GET", path, 200, running.data)).toEqual([]);
    gh.setWorkflowRun(4242, { status: "completed", conclusion: "cancelled", attempt: 2 });
    const { data } = await octokit.rest.actions.getWorkflowRun({ ...repo, run_id: 4242 });
    expect(data).toMatchObject({ status: "completed", conclusion: "cancelled", run_attempt: 2 });
    expect(responseErrors("GET", path, 200, data)).toEqual([]);
    // The check itself refuses what GitHub's schema does.
    expect(responseErrors("GET", path, 200, { ...data, run_number: "7" })).not.toEqual([]);
    gh.setWorkflowRun(4242, undefined);
    expect((await rejection(octokit.rest.actions.getWorkflowRun({ ...repo, run_id: 4242 }))).status).toBe(
      404,
    );
    expect(() => gh.setWorkflowRun(1, { status: "completed" })).toThrow(/conclusion/);
  });

  it("refuses a token without actions: read with 403, naming the permission", async () => {
    gh.setWorkflowRun(4242, { status: "queued" });
    gh.setPermissions({ actions: "none" });
    const octokit = emulatorOctokit(gh);
    const err = await rejection(octokit.rest.actions.getWorkflowRun({ ...repo, run_id: 4242 }));
    expect(err.status).toBe(403);
    expect(err.message).toContain("Resource not accessible by integration");
    expect(err.response?.headers["x-accepted-github-permissions"]).toBe("actions=read");
    gh.setPermissions({ actions: "read" });
    expect((await octokit.rest.actions.getWorkflowRun({ ...repo, run_id: 4242 })).data.status).toBe("queued");
  });
});

describe("issue comments", () => {
  it("paginates 150 filler comments plus ours through octokit.paginate and Link headers", async () => {
    gh.addComments(7, 150, (i) => `filler ${i}`);
    const octokit = emulatorOctokit(gh);
    const mine = await octokit.rest.issues.createComment({
      ...repo,
      issue_number: 7,
      body: "<!-- ml-preview -->",
    });
    expect(mine.status).toBe(201);
    expect(mine.data.user?.login).toBe("github-actions[bot]");
    expect(mine.data.user?.type).toBe("Bot");

    const before = gh.requests.length;
    const all = await octokit.paginate(octokit.rest.issues.listComments, { ...repo, issue_number: 7 });
    expect(all).toHaveLength(151);
    expect(all.slice(0, 2).map((c) => c.body)).toEqual(["filler 0", "filler 1"]);
    expect(all.at(-1)?.id).toBe(mine.data.id);
    expect(new Set(all.map((c) => c.id)).size).toBe(151);
    // 151 comments at the default 30 a page: six pages, each asked for once.
    expect(gh.requests.slice(before).map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);

    const big = await octokit.paginate(octokit.rest.issues.listComments, {
      ...repo,
      issue_number: 7,
      per_page: 500,
    });
    expect(big).toHaveLength(151);
    expect(gh.requests.slice(-2).map((r) => r.path)).toEqual([
      "/repos/octo-org/ml-app/issues/7/comments?per_page=500",
      "/repos/octo-org/ml-app/issues/7/comments?per_page=500&page=2",
    ]);
  });

  it("sends prev/next/last/first Link relations like GitHub", async () => {
    gh.addComments(7, 95);
    const octokit = emulatorOctokit(gh);
    const list = (page: number) =>
      octokit.rest.issues.listComments({ ...repo, issue_number: 7, per_page: 20, page });
    const rels = (link: string | undefined) =>
      Object.fromEntries(
        [...(link ?? "").matchAll(/<[^>]*[?&]page=(\d+)[^>]*>; rel="(\w+)"/g)].map((m) => [
          m[2],
          Number(m[1]),
        ]),
      );
    const first = await list(1);
    expect(rels(first.headers.link)).toEqual({ next: 2, last: 5 });
    expect(first.headers.link).toContain(`${gh.url}/repositories/`);
    expect(rels((await list(3)).headers.link)).toEqual({ prev: 2, next: 4, last: 5, first: 1 });
    const last = await list(5);
    expect(last.data).toHaveLength(15);
    expect(rels(last.headers.link)).toEqual({ prev: 4, first: 1 });
  });

  it("creates, reads, updates and deletes a comment, then answers 404", async () => {
    const octokit = emulatorOctokit(gh);
    const created = await octokit.rest.issues.createComment({ ...repo, issue_number: 7, body: "v1" });
    const id = created.data.id;
    expect(created.data.html_url).toBe(`https://github.com/octo-org/ml-app/pull/7#issuecomment-${id}`);
    expect(gh.comments(7).map((c) => c.body)).toEqual(["v1"]);

    const updated = await octokit.rest.issues.updateComment({ ...repo, comment_id: id, body: "v2" });
    expect(updated.data.body).toBe("v2");
    gh.editComment(id, "taken over by run 2");
    expect((await octokit.rest.issues.getComment({ ...repo, comment_id: id })).data.body).toBe(
      "taken over by run 2",
    );

    const deleted = await octokit.rest.issues.deleteComment({ ...repo, comment_id: id });
    expect(deleted.status).toBe(204);
    expect(gh.comments(7)).toEqual([]);
    for (const call of [
      octokit.rest.issues.getComment({ ...repo, comment_id: id }),
      octokit.rest.issues.updateComment({ ...repo, comment_id: id, body: "v3" }),
      octokit.rest.issues.deleteComment({ ...repo, comment_id: id }),
    ]) {
      const err = await rejection(call);
      expect(err.status).toBe(404);
      expect(err.response?.data).toMatchObject({ message: "Not Found" });
    }
  });

  it("sees comments deleted by someone else, and refuses oversized or missing bodies", async () => {
    const octokit = emulatorOctokit(gh);
    const { data } = await octokit.rest.issues.createComment({ ...repo, issue_number: 7, body: "x" });
    gh.deleteComment(data.id);
    expect((await rejection(octokit.rest.issues.getComment({ ...repo, comment_id: data.id }))).status).toBe(
      404,
    );
    const tooLong = await rejection(
      octokit.rest.issues.createComment({ ...repo, issue_number: 7, body: "x".repeat(65537) }),
    );
    expect(tooLong.status).toBe(422);
    expect(tooLong.message).toContain("body is too long");
    // No body at all: a route string Octokit has no types for, so nothing forces `body`.
    const missing = await rejection(octokit.request(`POST /repos/${gh.owner}/${gh.repo}/issues/7/comments`));
    expect(missing.status).toBe(422);
    expect(missing.message).toContain("issues/create-comment");
    expect(gh.violations).toEqual([
      expect.stringMatching(
        /POST .*\/issues\/7\/comments \(issues\/create-comment\): the request body is required/,
      ),
    ]);
    gh.violations.splice(0);
    expect(
      (await rejection(octokit.rest.issues.createComment({ ...repo, issue_number: 999, body: "x" }))).status,
    ).toBe(404);
  });
});

describe("PR commands: roles and reactions", () => {
  it("answers a person's role and its legacy permission; anyone else reads a public repository", async () => {
    const octokit = emulatorOctokit(gh);
    gh.setRole("Mia", "maintain");
    gh.setRole("tom", "triage");
    const of = async (username: string) =>
      (await octokit.rest.repos.getCollaboratorPermissionLevel({ ...repo, username })).data;
    expect(await of("mia")).toMatchObject({
      permission: "write",
      role_name: "maintain",
      user: { login: "mia" },
    });
    expect(await of("tom")).toMatchObject({ permission: "read", role_name: "triage" });
    expect(await of("someone")).toMatchObject({ permission: "read", role_name: "read" });
  });

  it("records who added and removed labels as issue events, in GitHub's documented shape, oldest first", async () => {
    const octokit = emulatorOctokit(gh);
    gh.addLabel(7, "safe-to-preview", "triager-tom");
    await octokit.rest.issues.removeLabel({ ...repo, issue_number: 7, name: "safe-to-preview" });
    await octokit.rest.issues.addLabels({ ...repo, issue_number: 7, labels: ["Safe-To-Preview"] });
    const events = await octokit.paginate(octokit.rest.issues.listEvents, { ...repo, issue_number: 7 });
    expect(
      events.map((e) => [e.event, e.actor?.login, (e as { label?: { name: string } }).label?.name]),
    ).toEqual([
      ["labeled", "triager-tom", "safe-to-preview"],
      ["unlabeled", "github-actions[bot]", "safe-to-preview"],
      ["labeled", "github-actions[bot]", "Safe-To-Preview"],
    ]);
    const path = `/repos/${repo.owner}/${repo.repo}/issues/7/events`;
    expect(responseErrors("GET", path, 200, events)).toEqual([]);
    expect(responseErrors("GET", path, 200, [{ ...events[0], actor: "tom" }])).not.toEqual([]);
    expect((await rejection(octokit.rest.issues.listEvents({ ...repo, issue_number: 99 }))).status).toBe(404);
  });

  it("reacts to a comment once per person and content (201, then 200), refusing unknown contents", async () => {
    const octokit = emulatorOctokit(gh);
    const id = gh.postComment(7, "/preview", "mia");
    const react = (content: "eyes" | "rocket") =>
      octokit.rest.reactions.createForIssueComment({ ...repo, comment_id: id, content });
    expect((await react("eyes")).status).toBe(201);
    expect((await react("eyes")).status).toBe(200);
    expect((await react("rocket")).data).toMatchObject({
      content: "rocket",
      user: { login: "github-actions[bot]" },
    });
    expect(gh.reactions(id)).toEqual(["github-actions[bot]:eyes", "github-actions[bot]:rocket"]);
    const bad = await rejection(
      octokit.request("POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions", {
        ...repo,
        comment_id: id,
        content: "party" as "eyes",
      }),
    );
    expect(bad.status).toBe(422);
    expect(gh.violations).toEqual([expect.stringMatching(/reactions\/create-for-issue-comment/)]);
    gh.violations.splice(0);
    const gone = await rejection(
      octokit.rest.reactions.createForIssueComment({ ...repo, comment_id: 42, content: "eyes" }),
    );
    expect(gone.status).toBe(404);
    gh.setPermissions({ issues: "read", "pull-requests": "read" });
    expect((await rejection(react("rocket"))).status).toBe(403);
  });
});

describe("auth and permissions", () => {
  it("answers 401 Bad credentials to a wrong token, without retrying", async () => {
    const octokit = emulatorOctokit(gh, { token: "ghs_wrong" });
    const err = await rejection(octokit.rest.pulls.get({ ...repo, pull_number: 7 }));
    expect(err.status).toBe(401);
    expect(err.message).toContain("Bad credentials");
    expect(gh.requests).toHaveLength(1);
    const anonymous = new Octokit({ baseUrl: gh.url, throttle: { enabled: false } });
    const none = await rejection(anonymous.rest.pulls.get({ ...repo, pull_number: 7 }));
    expect(none.status).toBe(401);
    expect(none.message).toContain("Requires authentication");
    const headers = { authorization: `Bearer ${gh.token}` };
    expect((await anonymous.rest.pulls.get({ ...repo, pull_number: 7, headers })).status).toBe(200);
  });

  it("readOnly refuses every write with 403 like a fork PR's token, but still reads", async () => {
    gh.setReadOnly(true);
    const octokit = emulatorOctokit(gh);
    const err = await rejection(octokit.rest.issues.createComment({ ...repo, issue_number: 7, body: "hi" }));
    expect(err.status).toBe(403);
    expect(err.message).toContain("Resource not accessible by integration");
    expect(err.response?.data).toMatchObject({
      documentation_url: expect.stringContaining("create-an-issue-comment"),
    });
    expect(err.response?.headers["x-accepted-github-permissions"]).toContain("pull_requests=write");
    const deploy = await rejection(
      octokit.rest.repos.createDeployment({ ...repo, ref: headSha, required_contexts: [] }),
    );
    expect(deploy.status).toBe(403);
    expect((await octokit.rest.issues.listComments({ ...repo, issue_number: 7 })).status).toBe(200);
    expect(gh.comments(7)).toEqual([]);
    gh.setReadOnly(false);
    expect((await octokit.rest.issues.createComment({ ...repo, issue_number: 7, body: "hi" })).status).toBe(
      201,
    );
  });
});

describe("faults through Octokit's retry and throttling plugins", () => {
  it("retries injected 502s and succeeds; gives up once retries run out", async () => {
    gh.failNext({ method: "GET", path: /\/pulls\/7$/, status: 502, count: 2 });
    const octokit = emulatorOctokit(gh);
    expect((await octokit.rest.pulls.get({ ...repo, pull_number: 7 })).data.number).toBe(7);
    expect(gh.requests.map((r) => r.status)).toEqual([502, 502, 200]);

    gh.failNext({ method: "*", path: /\/pulls\/7$/, status: 502, count: 5, body: "<html>Unicorn!</html>" });
    const err = await rejection(
      emulatorOctokit(gh, { retries: 1 }).rest.pulls.get({ ...repo, pull_number: 7 }),
    );
    expect(err.status).toBe(502);
    expect(gh.requests.slice(3).map((r) => r.status)).toEqual([502, 502]);
  });

  it("hands a secondary rate limit to onSecondaryRateLimit with retry-after, and retries when it says so", async () => {
    const seen: Array<{ retryAfter: number; method: string; retryCount: number }> = [];
    const octokit = emulatorOctokit(gh, {
      onSecondaryRateLimit: (retryAfter, options, _o, retryCount) => {
        seen.push({ retryAfter, method: options.method, retryCount });
        return retryCount < 1;
      },
    });
    gh.failNext(secondaryRateLimit("POST", /\/issues\/7\/comments/, 1));
    const created = await octokit.rest.issues.createComment({
      ...repo,
      issue_number: 7,
      body: "after limit",
    });
    expect(created.status).toBe(201);
    expect(seen).toEqual([{ retryAfter: 1, method: "POST", retryCount: 0 }]);
    expect(gh.requests.map((r) => r.status)).toEqual([403, 201]);

    gh.failNext(secondaryRateLimit("POST", /\/issues\/7\/comments/, 1, 2));
    const err = await rejection(
      octokit.rest.issues.createComment({ ...repo, issue_number: 7, body: "again" }),
    );
    expect(err.status).toBe(403);
    expect(err.message).toMatch(/secondary rate limit/);
    expect(gh.comments(7).map((c) => c.body)).toEqual(["after limit"]);
  });

  it("hands a primary rate limit (x-ratelimit-remaining: 0) to onRateLimit", async () => {
    const seen: number[] = [];
    const octokit = emulatorOctokit(gh, {
      onRateLimit: (retryAfter) => {
        seen.push(retryAfter);
        return true;
      },
    });
    gh.failNext(primaryRateLimit("GET", /\/pulls\/7$/, 1));
    expect((await octokit.rest.pulls.get({ ...repo, pull_number: 7 })).status).toBe(200);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toBeGreaterThanOrEqual(1);
  });

  it("fastThrottle removes the write spacing that default throttling imposes", async () => {
    const handlers = { onRateLimit: () => false, onSecondaryRateLimit: () => false };
    const fast = new Octokit({
      auth: gh.token,
      baseUrl: gh.url,
      throttle: { ...handlers, ...fastThrottle() },
    });
    // Default groups: each write waits ≥1 s after the previous one (comment creates even 3 s). Both run at
    // once: all four fast writes land before the default client's second one is let through.
    const slow = new Octokit({ auth: gh.token, baseUrl: gh.url, throttle: handlers });
    const slowWrites = (async () => {
      for (let i = 0; i < 2; i++)
        await slow.rest.issues.createComment({ ...repo, issue_number: 7, body: `slow ${i}` });
    })();
    for (let i = 0; i < 4; i++)
      await fast.rest.issues.createComment({ ...repo, issue_number: 7, body: `fast ${i}` });
    await slowWrites;
    const order = gh.requests
      .filter((r) => r.method === "POST" && r.path.endsWith("/issues/7/comments"))
      .map((r) => String((r.body as { body?: string }).body));
    expect(order.indexOf("slow 1")).toBeGreaterThan(order.indexOf("fast 3"));
    expect(order).toHaveLength(6);
  });
});

describe("deployments", () => {
  it("refuses a deployment blocked by the run's own pending check unless required_contexts is []", async () => {
    const octokit = emulatorOctokit(gh);
    const blocked = await rejection(octokit.rest.repos.createDeployment({ ...repo, ref: headSha }));
    expect(blocked.status).toBe(409);
    expect(blocked.message).toContain("Commit status checks failed");
    const unknown = await rejection(
      octokit.rest.repos.createDeployment({ ...repo, ref: "no-such-branch", required_contexts: [] }),
    );
    expect(unknown.status).toBe(422);
    gh.setContext("preview", "success");
    expect((await octokit.rest.repos.createDeployment({ ...repo, ref: headSha })).status).toBe(201);
  });

  it("auto-merges a branch behind its base instead of deploying when auto_merge is left on", async () => {
    gh.addPull({ number: 8, headSha: "c".repeat(40), headRef: "stale", behindBase: true });
    const octokit = emulatorOctokit(gh);
    const res = await octokit.rest.repos.createDeployment({ ...repo, ref: "stale", required_contexts: [] });
    expect(res.status).toBe(202);
    expect(res.data).toMatchObject({ message: "Auto-merged main into stale on deployment." });
    expect(gh.deployments()).toEqual([]);
    expect((await octokit.rest.pulls.get({ ...repo, pull_number: 8 })).data.head.sha).not.toBe(
      "c".repeat(40),
    );
  });

  it("creates deployments and statuses, lists them filtered and newest first, and inactivates older ones", async () => {
    const octokit = emulatorOctokit(gh);
    const create = () =>
      octokit.rest.repos.createDeployment({
        ...repo,
        ref: "feature/model-v2",
        environment: "preview/pr-7",
        transient_environment: false,
        production_environment: false,
        auto_merge: false,
        required_contexts: [],
        payload: { pr: 7 },
      });
    const first = await create();
    expect(first.status).toBe(201);
    if (!("id" in first.data)) throw new Error("expected a deployment");
    expect(first.data).toMatchObject({
      sha: headSha,
      environment: "preview/pr-7",
      transient_environment: false,
      payload: { pr: 7 },
    });
    const firstId = first.data.id;
    await octokit.rest.repos.createDeploymentStatus({
      ...repo,
      deployment_id: firstId,
      state: "success",
      environment_url: "https://one.ngrok.app",
      log_url: "https://github.com/octo-org/ml-app/actions/runs/1",
      description: "Preview is live",
    });
    const second = await create();
    if (!("id" in second.data)) throw new Error("expected a deployment");
    const secondId = second.data.id;
    await octokit.rest.repos.createDeploymentStatus({
      ...repo,
      deployment_id: secondId,
      state: "in_progress",
    });
    const live = await octokit.rest.repos.createDeploymentStatus({
      ...repo,
      deployment_id: secondId,
      state: "success",
      environment_url: "https://two.ngrok.app",
    });
    expect(live.data).toMatchObject({
      state: "success",
      environment_url: "https://two.ngrok.app",
      environment: "preview/pr-7",
    });

    const listed = await octokit.rest.repos.listDeployments({ ...repo, environment: "preview/pr-7" });
    expect(listed.data.map((d) => d.id)).toEqual([secondId, firstId]);
    expect((await octokit.rest.repos.listDeployments({ ...repo, environment: "other" })).data).toEqual([]);
    expect(
      (await octokit.rest.repos.listDeployments({ ...repo, ref: "feature/model-v2" })).data,
    ).toHaveLength(2);
    const statuses = await octokit.rest.repos.listDeploymentStatuses({ ...repo, deployment_id: firstId });
    expect(statuses.data.map((s) => s.state)).toEqual(["inactive", "success"]);
    expect(statuses.data[1]).toMatchObject({
      log_url: "https://github.com/octo-org/ml-app/actions/runs/1",
      description: "Preview is live",
    });

    const state = gh.deployments();
    expect(state.map((d) => d.statuses.map((s) => s.state))).toEqual([
      ["success", "inactive"],
      ["in_progress", "success"],
    ]);
    expect(state[0]).toMatchObject({ ref: "feature/model-v2", auto_merge: false, required_contexts: [] });
    const bad = await rejection(
      octokit.rest.repos.createDeploymentStatus({
        ...repo,
        deployment_id: secondId,
        state: "error",
        description: "x".repeat(141),
      }),
    );
    expect(bad.status).toBe(422);
  });

  it("keeps an earlier deployment live when auto_inactive is false", async () => {
    const octokit = emulatorOctokit(gh);
    const ids: number[] = [];
    for (const autoInactive of [true, false]) {
      const d = await octokit.rest.repos.createDeployment({
        ...repo,
        ref: headSha,
        environment: "pr-7",
        production_environment: false,
        required_contexts: [],
      });
      if (!("id" in d.data)) throw new Error("expected a deployment");
      ids.push(d.data.id);
      await octokit.rest.repos.createDeploymentStatus({
        ...repo,
        deployment_id: d.data.id,
        state: "success",
        auto_inactive: autoInactive,
      });
    }
    expect(gh.deployments().map((d) => d.statuses.at(-1)?.state)).toEqual(["success", "success"]);
  });
});

describe("as strict as GitHub", () => {
  it("validates every request against GitHub's OpenAPI description, naming the operation and the error", async () => {
    const octokit = emulatorOctokit(gh);
    const bad = await rejection(
      octokit.request("POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses", {
        ...repo,
        deployment_id: 1,
        state: "deployed" as never,
      }),
    );
    expect(bad.status).toBe(422);
    await rejection(octokit.request("GET /repos/{owner}/{repo}/issues/7/comments?sort=up", repo));
    expect(gh.violations).toEqual([
      expect.stringMatching(/repos\/create-deployment-status.*body\/state must be equal to one of/),
      expect.stringMatching(/issues\/list-comments.*query parameter sort is not a parameter/),
    ]);
    gh.violations.splice(0);
    await expect(
      (async () => {
        await rejection(
          octokit.request("PATCH /repos/{owner}/{repo}/issues/comments/abc", { ...repo, body: "x" }),
        );
        await gh.close();
      })(),
    ).rejects.toThrow(/issues\/update-comment.*comment_id must be integer/);
    gh = await startGitHubEmulator(); // for afterEach
  });

  it("refuses an edit or delete of a comment someone else wrote, as GitHub answers an integration", async () => {
    const octokit = emulatorOctokit(gh);
    const theirs = gh.postComment(7, "a reviewer's words", "octocat");
    const otherBot = gh.postComment(7, "another bot", "other-app[bot]");
    for (const comment_id of [theirs, otherBot]) {
      const edit = await rejection(
        octokit.rest.issues.updateComment({ ...repo, comment_id, body: "mine now" }),
      );
      expect(edit.status).toBe(403);
      expect(edit.message).toContain("Resource not accessible by integration");
      expect((await rejection(octokit.rest.issues.deleteComment({ ...repo, comment_id }))).status).toBe(403);
    }
    expect(gh.comments(7).map((c) => [c.user, c.body])).toEqual([
      ["octocat", "a reviewer's words"],
      ["other-app[bot]", "another bot"],
    ]);
    // Another token acts as its own identity: a person's token edits that person's comment.
    gh.addToken("ghp_octocat", { login: "octocat", kind: "user" });
    const person = emulatorOctokit(gh, { token: "ghp_octocat" });
    expect((await person.rest.users.getAuthenticated()).data).toMatchObject({
      login: "octocat",
      type: "User",
    });
    await person.rest.issues.updateComment({ ...repo, comment_id: theirs, body: "edited by its author" });
    const { data } = await person.rest.issues.createComment({ ...repo, issue_number: 7, body: "hi" });
    expect(data.user).toMatchObject({ login: "octocat", type: "User" });
    expect(gh.requests.at(-1)?.actor).toBe("octocat");
  });

  it("refuses writes a token's permissions do not cover, naming the accepted permissions", async () => {
    gh.setPermissions({ "pull-requests": "read", issues: "read", deployments: "none" });
    const octokit = emulatorOctokit(gh);
    const comment = await rejection(
      octokit.rest.issues.createComment({ ...repo, issue_number: 7, body: "x" }),
    );
    expect(comment.status).toBe(403);
    expect(comment.message).toContain("Resource not accessible by integration");
    expect(comment.response?.headers["x-accepted-github-permissions"]).toBe(
      "issues=write; pull_requests=write",
    );
    expect((await octokit.rest.issues.listComments({ ...repo, issue_number: 7 })).status).toBe(200);
    const deployments = await rejection(octokit.rest.repos.listDeployments(repo));
    expect(deployments.status).toBe(403);
    gh.setPermissions({ issues: "write", "pull-requests": "none", deployments: "write" });
    expect((await octokit.rest.issues.createComment({ ...repo, issue_number: 7, body: "x" })).status).toBe(
      201,
    );
    expect((await octokit.rest.repos.listDeployments(repo)).status).toBe(200);
  });

  it("lists, adds and removes labels, case-insensitively, with 404 for a label not on the PR", async () => {
    const octokit = emulatorOctokit(gh);
    await octokit.rest.issues.addLabels({ ...repo, issue_number: 7, labels: ["Preview-Fork", "PREVIEW"] });
    expect(
      (await octokit.rest.issues.listLabelsOnIssue({ ...repo, issue_number: 7 })).data.map((l) => l.name),
    ).toEqual(["preview", "Preview-Fork"]);
    await octokit.rest.issues.removeLabel({ ...repo, issue_number: 7, name: "preview-fork" });
    const gone = await rejection(octokit.rest.issues.removeLabel({ ...repo, issue_number: 7, name: "nope" }));
    expect(gone.status).toBe(404);
    expect(gone.message).toContain("Label does not exist");
  });

  it("answers an unsupported X-GitHub-Api-Version with 400 and records the headers sent", async () => {
    const octokit = emulatorOctokit(gh);
    const headers = { "x-github-api-version": "2019-01-01" };
    expect((await rejection(octokit.rest.pulls.get({ ...repo, pull_number: 7, headers }))).status).toBe(400);
    await octokit.rest.pulls.get({
      ...repo,
      pull_number: 7,
      headers: { "x-github-api-version": "2022-11-28" },
    });
    expect(gh.requests.at(-1)?.headers["x-github-api-version"]).toBe("2022-11-28");
  });

  it("spends the primary rate limit budget: headers count down, then 403 until it resets", async () => {
    const octokit = emulatorOctokit(gh, { onRateLimit: () => false });
    gh.setRateLimitRemaining(2);
    const first = await octokit.rest.pulls.get({ ...repo, pull_number: 7 });
    expect(first.headers["x-ratelimit-remaining"]).toBe("1");
    await octokit.rest.pulls.get({ ...repo, pull_number: 7 });
    const spent = await rejection(octokit.rest.pulls.get({ ...repo, pull_number: 7 }));
    expect(spent.status).toBe(403);
    expect(spent.message).toContain("API rate limit exceeded");
    expect(spent.response?.headers["x-ratelimit-remaining"]).toBe("0");
  });
});

describe("time faults: outage, hanging requests, latency, held requests", () => {
  it("fails every request with 500 during an outage, then answers again", async () => {
    const octokit = emulatorOctokit(gh, { retries: 0 });
    gh.outage(60_000);
    expect((await rejection(octokit.rest.pulls.get({ ...repo, pull_number: 7 }))).status).toBe(500);
    expect((await rejection(octokit.rest.issues.listComments({ ...repo, issue_number: 7 }))).status).toBe(
      500,
    );
    gh.outage(0);
    expect((await octokit.rest.pulls.get({ ...repo, pull_number: 7 })).status).toBe(200);
  });

  it("lets matching requests hang (aborted by the client) while others answer", async () => {
    const octokit = emulatorOctokit(gh, { retries: 0 });
    gh.hang({ match: { method: "GET", path: /\/pulls\/7$/ } });
    const controller = new AbortController();
    const hung = octokit.rest.pulls.get({ ...repo, pull_number: 7, request: { signal: controller.signal } });
    expect((await octokit.rest.issues.listComments({ ...repo, issue_number: 7 })).status).toBe(200);
    controller.abort();
    await expect(hung).rejects.toThrow();
    expect(gh.requests.filter((r) => r.path.endsWith("/pulls/7"))).toEqual([]);
  });

  it("ends a hang after forMs, and holds one request until the test releases it", async () => {
    const octokit = emulatorOctokit(gh);
    gh.hang({ forMs: 50 });
    expect((await octokit.rest.pulls.get({ ...repo, pull_number: 7 })).status).toBe(200);
    const held = gh.hold({ method: "POST", body: /first/ });
    const first = octokit.rest.issues.createComment({ ...repo, issue_number: 7, body: "first" });
    await held.arrived;
    await octokit.rest.issues.createComment({ ...repo, issue_number: 7, body: "second" });
    held.release();
    await first;
    expect(gh.comments(7).map((c) => c.body)).toEqual(["second", "first"]);
  });
});

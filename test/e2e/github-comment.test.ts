import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { PreviewState } from "../../src/config/types.js";
import {
  createOctokit,
  type Octokit,
  parseMarker,
  renderSummary,
  type StateReport,
  StickyComment,
} from "../../src/github/index.js";
import type { RunContext } from "../../src/github/types.js";
import type { Logger } from "../../src/log.js";
import {
  type GitHubEmulator,
  secondaryRateLimit,
  startGitHubEmulator,
} from "../support/github-emulator/index.js";

const PR = 12;
const NGROK_TOKEN = "2abcNGROKsecretTOKENxyz_123";
const BASIC_PASSWORD = "correct-horse-battery";

function recordingLogger(): Logger & { warnings: string[]; infos: string[] } {
  const warnings: string[] = [];
  const infos: string[] = [];
  return {
    warnings,
    infos,
    info: (m) => infos.push(m),
    warning: (m) => warnings.push(m),
    debug() {},
    group: (_t, fn) => fn(),
  };
}

function runContext(gh: GitHubEmulator, runId: string): RunContext {
  return {
    owner: gh.owner,
    repo: gh.repo,
    runId,
    runUrl: `https://github.com/${gh.owner}/${gh.repo}/actions/runs/${runId.split(".")[0]}`,
    sha: "a".repeat(40),
    eventName: "pull_request",
  };
}

const building: StateReport = {
  state: "building",
  details: { commit: "b".repeat(40), startedAt: new Date() },
};
const live: StateReport = {
  state: "live",
  details: {
    url: "https://otter.ngrok-free.app",
    expiresAt: new Date(Date.now() + 30 * 60_000),
    at: new Date(),
  },
};
const expired: StateReport = {
  state: "expired",
  details: { url: "https://otter.ngrok-free.app", at: new Date() },
};

describe("StickyComment against the GitHub emulator", () => {
  let gh: GitHubEmulator;
  let octokit: Octokit;
  let log: ReturnType<typeof recordingLogger>;

  beforeEach(async () => {
    gh = await startGitHubEmulator();
    gh.addPull({ number: PR, headSha: "b".repeat(40), headRef: "feature" });
    log = recordingLogger();
    octokit = createOctokit(gh.token, { baseUrl: gh.url, log, fastRetries: true });
  });
  afterEach(() => gh.close());

  // The bot's comments of preview `name` (a human may paste a marker too: that is not ours).
  const ours = (name = "app") =>
    gh.comments(PR).filter((c) => parseMarker(c.body)?.name === name && c.user === "github-actions[bot]");
  const sticky = (runId: string, extra: { commentId?: number; secrets?: string[] } = {}) =>
    new StickyComment(octokit, runContext(gh, runId), PR, "app", {
      qrCode: true,
      secrets: extra.secrets ?? [],
      log,
      commentId: extra.commentId,
    });

  async function sequence(comment: StickyComment, states: StateReport[]): Promise<void> {
    for (const report of states) {
      expect(await comment.report(report)).toBe("written");
      expect(ours()).toHaveLength(1);
      expect(parseMarker(ours()[0]!.body)?.state).toBe(report.state);
    }
  }

  it("keeps one comment through building → live → expired, edited in place", async () => {
    const comment = sticky("500.1");
    await sequence(comment, [building, live, expired]);
    const created = gh.requests.filter((r) => r.method === "POST" && r.status === 201);
    expect(created).toHaveLength(1);
    expect(ours()[0]!.id).toBe(comment.id);
    expect(ours()[0]!.user).toBe("github-actions[bot]");
    // The live body carried the link; the expired one strikes it through.
    const patches = gh.requests
      .filter((r) => r.method === "PATCH")
      .map((r) => (r.body as { body: string }).body);
    expect(patches[0]).toContain("**[https://otter.ngrok-free.app](https://otter.ngrok-free.app)**");
    expect(ours()[0]!.body).toContain("~~`https://otter.ngrok-free.app`~~");
  });

  it("finds its comment among 150 others (past the first page) and never posts a second", async () => {
    gh.addComments(PR, 150);
    const first = sticky("501.1");
    await first.report(building);
    expect(gh.comments(PR)).toHaveLength(151);
    // A human pasted an old marker; a second preview name shares the PR.
    gh.addComments(PR, 1, () => '<!-- ml-preview name="app" state="live" run="1.1" -->\ncopied', "octocat");
    gh.addComments(
      PR,
      1,
      () => '<!-- ml-preview name="app-2" state="live" run="900.1" -->\nother preview',
      "github-actions[bot]",
    );
    // The post step or a re-run: a fresh instance without the id must find the bot's comment on page 2.
    const again = sticky("501.1");
    await sequence(again, [live, expired]);
    expect(again.id).toBe(first.id);
    expect(gh.requests.some((r) => r.method === "GET" && /[?&]page=2/.test(r.path))).toBe(true);
    expect(gh.requests.filter((r) => r.method === "POST" && r.status === 201)).toHaveLength(1);
    expect(ours("app-2")[0]!.body).toContain("other preview");
  });

  it("survives the first two calls of each kind failing with 502, still one comment", async () => {
    gh.addComments(PR, 150);
    for (const [method, path] of [
      ["GET", /\/issues\/\d+\/comments/],
      ["POST", /\/issues\/\d+\/comments/],
      ["GET", /\/issues\/comments\/\d+/],
      ["PATCH", /\/issues\/comments\/\d+/],
    ] as const) {
      gh.failNext({ method, path, status: 502, count: 2, body: "<html><h1>502 Bad Gateway</h1></html>" });
    }
    const comment = sticky("502.1");
    await sequence(comment, [building, live, expired]);
    const failed = gh.requests.filter((r) => r.status === 502);
    expect(failed).toHaveLength(8);
    expect(gh.requests.filter((r) => r.method === "POST" && r.status === 201)).toHaveLength(1);
  });

  it("retries a secondary rate limit with a warning", async () => {
    gh.failNext(secondaryRateLimit("POST", /\/issues\/\d+\/comments/, 1, 1));
    gh.failNext(secondaryRateLimit("PATCH", /\/issues\/comments\/\d+/, 1, 1));
    await sequence(sticky("503.1"), [building, live]);
    expect(log.warnings.filter((w) => /secondary rate limit/.test(w))).toHaveLength(2);
  });

  it("a newer run takes the comment over; the older run is superseded and never overwrites it", async () => {
    const older = sticky("600.1");
    await older.report(building);
    const id = older.id!;
    const newer = sticky("601.1");
    expect(await newer.report(building)).toBe("written");
    expect(newer.id).toBe(id);
    const newerBody = ours()[0]!.body;

    const patchesBefore = gh.requests.filter((r) => r.method === "PATCH").length;
    expect(await older.isSuperseded()).toBe(true);
    expect(await older.report(live)).toBe("superseded");
    expect(await older.report(expired)).toBe("superseded");
    expect(gh.requests.filter((r) => r.method === "PATCH")).toHaveLength(patchesBefore);
    expect(ours()).toHaveLength(1);
    expect(ours()[0]!.body).toBe(newerBody);
    expect(parseMarker(newerBody)?.run).toBe("601.1");
    expect(await newer.isSuperseded()).toBe(false);
    expect(await newer.report(live)).toBe("written");
  });

  it("a re-run attempt supersedes the first attempt; a late older run never writes", async () => {
    const attempt2 = sticky("700.2");
    await attempt2.report(live);
    const attempt1 = sticky("700.1");
    expect(await attempt1.report(building)).toBe("superseded");
    expect(parseMarker(ours()[0]!.body)).toMatchObject({ run: "700.2", state: "live" });
  });

  it("notices a newer run's marker written by someone else", async () => {
    const comment = sticky("800.1");
    await comment.report(live);
    gh.editComment(comment.id!, '<!-- ml-preview name="app" state="building" run="801.1" -->\nnewer');
    expect(await comment.isSuperseded()).toBe(true);
    expect(await comment.report(expired)).toBe("superseded");
    expect(ours()[0]!.body).toContain("newer");
  });

  it("recreates a deleted comment, once", async () => {
    const comment = sticky("900.1");
    await comment.report(building);
    const firstId = comment.id!;
    gh.deleteComment(firstId);
    await sequence(comment, [live, expired]);
    expect(comment.id).not.toBe(firstId);
    expect(log.infos.some((m) => m.includes("deleted"))).toBe(true);
  });

  it("the post step updates the known comment by id without searching", async () => {
    await sticky("950.1").report(live);
    const id = ours()[0]!.id;
    const seen = gh.requests.length;
    const post = sticky("950.1", { commentId: id });
    expect(await post.report({ state: "stopped", details: { reason: "The job was cancelled." } })).toBe(
      "written",
    );
    const after = gh.requests.slice(seen);
    expect(after.map((r) => r.method)).toEqual(["GET", "PATCH"]);
    expect(after.some((r) => /\/issues\/\d+\/comments/.test(r.path))).toBe(false);
    expect(ours()[0]!.body).toContain("The job was cancelled.");
  });

  it("a read-only token gets a message naming `pull-requests: write`", async () => {
    gh.setReadOnly(true);
    const error = await sticky("990.1")
      .report(building)
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ name: "PreviewError", step: "github", code: "GITHUB_PERMISSION" });
    expect((error as Error).message).toContain("`pull-requests: write`");
    expect(gh.comments(PR)).toHaveLength(0);
  });

  it("no secret reaches any comment body or summary", async () => {
    const secrets = [NGROK_TOKEN, BASIC_PASSWORD, gh.token];
    const comment = sticky("999.1", { secrets });
    const leaky = (state: PreviewState): StateReport => ({
      state,
      details: {
        url: "https://otter.ngrok-free.app",
        error: `ngrok rejected authtoken ${NGROK_TOKEN}`,
        step: "tunnel",
        exitCode: 3,
        logLines: [`BASIC_AUTH=admin:${BASIC_PASSWORD}`, `token=${encodeURIComponent(gh.token)}`],
        reason: `stopped with ${BASIC_PASSWORD}`,
        hint: `use ${NGROK_TOKEN}`,
      },
    });
    const states: PreviewState[] = ["building", "live", "failed", "skipped"];
    for (const state of states) await comment.report(leaky(state));
    const bodies = gh.requests.filter((r) => r.body !== undefined).map((r) => JSON.stringify(r.body));
    expect(bodies.length).toBeGreaterThanOrEqual(states.length);
    const summaries = states.map((state) =>
      renderSummary(leaky(state), { name: "app", run: runContext(gh, "999.1"), secrets }),
    );
    for (const text of [...bodies, ...summaries, ...gh.comments(PR).map((c) => c.body)]) {
      for (const secret of secrets) {
        expect(text).not.toContain(secret);
        expect(text).not.toContain(encodeURIComponent(secret));
      }
    }
    expect(bodies.some((b) => b.includes("ngrok rejected authtoken ***"))).toBe(true);
  });
});

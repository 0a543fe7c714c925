import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { commentReporter } from "../../src/action/reporters.js";
import type { PreviewState } from "../../src/config/types.js";
import { StickyComment } from "../../src/github/comment.js";
import { parseMarker } from "../../src/github/marker.js";
import { createOctokit, type Octokit } from "../../src/github/octokit.js";
import type { RunContext } from "../../src/github/pull-request.js";
import { renderSummary } from "../../src/github/summary.js";
import type { StateReport } from "../../src/lifecycle/types.js";
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
      ["PATCH", /\/issues\/comments\/\d+/],
    ] as const) {
      gh.failNext({ method, path, status: 502, count: 2, body: "<html><h1>502 Bad Gateway</h1></html>" });
    }
    const comment = sticky("502.1");
    await sequence(comment, [building, live, expired]);
    const failed = gh.requests.filter((r) => r.status === 502);
    expect(failed).toHaveLength(6);
    expect(gh.requests.filter((r) => r.method === "POST" && r.status === 201)).toHaveLength(1);
  });

  it("retries a secondary rate limit with a warning", async () => {
    gh.failNext(secondaryRateLimit("POST", /\/issues\/\d+\/comments/, 1, 1));
    gh.failNext(secondaryRateLimit("PATCH", /\/issues\/comments\/\d+/, 1, 1));
    await sequence(sticky("503.1"), [building, live]);
    expect(log.warnings.filter((w) => /secondary rate limit/.test(w))).toHaveLength(2);
  });

  it("a newer run takes the preview over with its own comment; the older run is superseded and never overwrites it", async () => {
    const older = sticky("600.1");
    await older.report(building);
    const id = older.id!;
    const newer = sticky("601.1");
    expect(await newer.report(building)).toBe("written");
    // The newer run posted its own comment and deleted the older run's.
    expect(newer.id).not.toBe(id);
    expect(ours().map((c) => c.id)).toEqual([newer.id]);
    const newerBody = ours()[0]!.body;

    const written = () => gh.requests.filter((r) => r.method === "PATCH" && r.status === 200).length;
    const patchesBefore = written();
    expect(await older.isSuperseded()).toBe(true);
    expect(await older.report(live)).toBe("superseded");
    expect(await older.report(expired)).toBe("superseded");
    expect(written()).toBe(patchesBefore);
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
    expect(log.infos.some((m) => m.includes(`comment ${firstId} is gone`))).toBe(true);
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
    expect(after.map((r) => r.method)).toEqual(["PATCH"]);
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

describe("only our own comment, never a stale write", () => {
  let gh: GitHubEmulator;
  let log: ReturnType<typeof recordingLogger>;

  beforeEach(async () => {
    gh = await startGitHubEmulator();
    gh.addPull({ number: PR, headSha: "b".repeat(40), headRef: "feature" });
    log = recordingLogger();
  });
  afterEach(() => gh.close());

  /** One run: its own token (each workflow run gets one), the same bot identity unless told otherwise. */
  const runWith = (runId: string, token = gh.token) =>
    new StickyComment(
      createOctokit(token, { baseUrl: gh.url, log, fastRetries: true }),
      runContext(gh, runId),
      PR,
      "app",
      { qrCode: false, secrets: [], log },
    );
  const secondRunToken = () => {
    gh.addToken("ghs_secondrun", { login: "github-actions[bot]", kind: "installation" });
    return "ghs_secondrun";
  };
  const marker = (run: string, state = "live") =>
    `<!-- ml-preview name="app" state="${state}" run="${run}" -->\n`;
  const byBot = () => gh.comments(PR).filter((c) => c.user === "github-actions[bot]");
  const touched = (id: number) =>
    gh.requests.filter((r) => r.method !== "GET" && r.path.endsWith(`/issues/comments/${id}`));

  it("a stranger's marker with a huge run number before the first run: ignored, the run gets its own comment", async () => {
    const stranger = gh.postComment(PR, `${marker("99999999999.1")}switched off`, "mallory");
    const run = runWith("1000.1");
    expect(await run.report(building)).toBe("written");
    expect(await run.isSuperseded()).toBe(false);
    expect(await run.report(live)).toBe("written");
    expect(byBot()).toHaveLength(1);
    expect(parseMarker(byBot()[0]!.body)).toMatchObject({ run: "1000.1", state: "live" });
    expect(touched(stranger)).toEqual([]);
    expect(gh.comments(PR).find((c) => c.id === stranger)?.body).toContain("switched off");
  });

  it("a stranger's older marker and another bot's marker are neither edited, deleted nor trusted", async () => {
    const older = gh.postComment(PR, `${marker("1.1")}pasted`, "mallory");
    const otherBot = gh.postComment(PR, `${marker("99999999999.1")}from another app`, "other-app[bot]");
    const run = runWith("1001.1");
    await run.report(building);
    await run.report(live);
    expect(await run.report(expired)).toBe("written");
    for (const id of [older, otherBot]) expect(touched(id)).toEqual([]);
    expect(gh.comments(PR).map((c) => c.user)).toEqual(["mallory", "other-app[bot]", "github-actions[bot]"]);
  });

  it("pagination: a stranger's newer marker on page 1, ours on page 2: ours is found and kept", async () => {
    gh.postComment(PR, `${marker("99999999999.1")}page one`, "mallory");
    gh.addComments(PR, 120);
    const first = runWith("1002.1");
    await first.report(building);
    // A fresh instance of the same run (a restarted step) finds its comment on page 2 and edits it.
    const again = runWith("1002.1");
    expect(await again.report(live)).toBe("written");
    expect(await again.isSuperseded()).toBe(false);
    expect(again.id).toBe(first.id);
    expect(gh.requests.some((r) => r.method === "GET" && /[?&]page=2/.test(r.path))).toBe(true);
    expect(byBot()).toHaveLength(1);
  });

  it("a personal token is who GET /user says; the Actions bot's markers are not its own", async () => {
    gh.addToken("ghp_maintainer", { login: "maintainer", kind: "user" });
    const botComment = gh.postComment(PR, `${marker("99999999999.1")}the workflow's`, "github-actions[bot]");
    const run = runWith("1003.1", "ghp_maintainer");
    expect(await run.report(building)).toBe("written");
    expect(gh.comments(PR).find((c) => c.id === run.id)?.user).toBe("maintainer");
    expect(touched(botComment)).toEqual([]);
  });

  it("a GitHub App's installation token learns its login from the comment it creates", async () => {
    gh.addToken("ghs_app", { login: "preview-app[bot]", kind: "installation" });
    const older = runWith("1004.1", "ghs_app");
    await older.report(building);
    const bots = gh.postComment(PR, `${marker("1.1")}another workflow`, "github-actions[bot]");
    const newer = runWith("1005.1", "ghs_app");
    expect(await newer.report(building)).toBe("written");
    // The older run's comment (same App) is replaced; github-actions[bot]'s is not ours.
    expect(gh.comments(PR).map((c) => c.user)).toEqual(["github-actions[bot]", "preview-app[bot]"]);
    expect(touched(bots)).toEqual([]);
    expect(await older.report(live)).toBe("superseded");
  });

  it("interleaved: an older run's write held until a newer run has written never overwrites it", async () => {
    const older = runWith("2000.1");
    await older.report(building);
    const held = gh.hold({ method: "PATCH", token: gh.token });
    const olderLive = older.report(live);
    await held.arrived;
    const newer = runWith("2001.1", secondRunToken());
    expect(await newer.report(building)).toBe("written");
    held.release();
    expect(await olderLive).toBe("superseded");
    expect(byBot().map((c) => parseMarker(c.body))).toEqual([
      { name: "app", state: "building", run: "2001.1" },
    ]);
    expect(await older.report(expired)).toBe("superseded");
    expect(parseMarker(byBot()[0]!.body)?.run).toBe("2001.1");
  });

  it("interleaved: an older run's first post held past a newer run's cycle is taken back", async () => {
    const older = runWith("2010.1");
    const held = gh.hold({ method: "POST", token: gh.token });
    const olderBuilding = older.report(building);
    await held.arrived;
    const newer = runWith("2011.1", secondRunToken());
    expect(await newer.report(live)).toBe("written");
    held.release();
    expect(await olderBuilding).toBe("superseded");
    expect(byBot().map((c) => parseMarker(c.body)?.run)).toEqual(["2011.1"]);
    expect(parseMarker(byBot()[0]!.body)?.state).toBe("live");
  });

  it("interleaved the other way: a newer run's read and write held while an older run writes", async () => {
    const newer = runWith("2021.1", secondRunToken());
    const heldRead = gh.hold({ method: "GET", path: /\/issues\/\d+\/comments/, token: "ghs_secondrun" });
    const newerBuilding = newer.report(building);
    await heldRead.arrived;
    const older = runWith("2020.1");
    expect(await older.report(building)).toBe("written");
    const heldWrite = gh.hold({ method: "POST", token: "ghs_secondrun" });
    heldRead.release();
    await heldWrite.arrived;
    expect(await older.report(live)).toBe("written"); // its own comment: the newer one is not there yet
    heldWrite.release();
    expect(await newerBuilding).toBe("written");
    expect(byBot().map((c) => parseMarker(c.body))).toEqual([
      { name: "app", state: "building", run: "2021.1" },
    ]);
    expect(await older.report(expired)).toBe("superseded");
    expect(await older.isSuperseded()).toBe(true);
    expect(byBot().map((c) => parseMarker(c.body)?.run)).toEqual(["2021.1"]);
  });

  it("a command's request never brings `live` back over the final state the holder wrote while it looked", async () => {
    const holder = runWith("2050.1");
    await holder.report(building);
    await holder.report(live);
    // The command's run (its own token) listed the holder as live; its read of the body waits while the
    // preview ends and the holder writes its final state.
    const command = runWith("2051.1", secondRunToken());
    const read = gh.hold({ method: "GET", path: /\/issues\/comments\/\d+$/, token: "ghs_secondrun" });
    const asked = command.requestOfHolder({ kind: "stop", by: "maintainer-mia", at: new Date() });
    await read.arrived;
    expect(await holder.report(expired)).toBe("written");
    read.release();
    expect(await asked).toBeUndefined();
    expect(parseMarker(byBot()[0]!.body)).toEqual({ name: "app", state: "expired", run: "2050.1" });
    expect(
      gh.requests.filter((r) => r.method === "PATCH" && r.headers.authorization === "token ghs_secondrun"),
    ).toEqual([]);
  });

  it("the hold loop's polls list only comments since ours: one request on a busy PR, a newer run still seen", async () => {
    gh.addComments(PR, 250);
    const older = runWith("2030.1");
    await older.report(building);
    const seen = gh.requests.length;
    expect(await older.isSuperseded()).toBe(false);
    const polls = gh.requests.slice(seen);
    expect(polls).toHaveLength(1);
    expect(polls[0]!.path).toMatch(/[?&]since=\d{4}-\d\d-\d\dT/);
    const newer = runWith("2031.1", secondRunToken());
    await newer.report(building);
    expect(await older.isSuperseded()).toBe(true);
    expect(byBot().map((c) => parseMarker(c.body)?.run)).toEqual(["2031.1"]);
  });

  it("the comment writer never holds the preview up, and the latest state wins", async () => {
    const reporter = commentReporter(runWith("2040.1"), log);
    const held = gh.hold({ method: "POST" });
    // Each call returns while GitHub has not even answered the first write.
    await reporter.report({ event: "building", details: building.details });
    await held.arrived;
    await reporter.report({ event: "starting", details: {} });
    await reporter.report({ event: "live", details: live.details });
    held.release();
    await reporter.report({ event: "expired", details: expired.details });
    const sent = gh.requests
      .filter((r) => r.method === "POST" || r.method === "PATCH")
      .map((r) => parseMarker((r.body as { body: string }).body)?.state);
    // starting and live arrived while building was in flight, then expired replaced them: never sent.
    expect(sent).toEqual(["building", "expired"]);
    expect(reporter.written()).toBe("expired");
    expect(byBot().map((c) => parseMarker(c.body)?.state)).toEqual(["expired"]);
  });

  it("after a permission 403: one error naming the permission, then no further attempts", async () => {
    gh.setPermissions({ "pull-requests": "read", issues: "read" });
    const run = runWith("3000.1");
    const error = await run.report(building).catch((e: unknown) => e);
    expect((error as Error).message).toContain("`pull-requests: write`");
    const seen = gh.requests.length;
    expect(await run.report(live)).toBe("denied");
    expect(await run.isSuperseded()).toBe(false);
    expect(gh.requests.length).toBe(seen);
  });

  it("pins X-GitHub-Api-Version 2022-11-28 on every request", async () => {
    const run = runWith("3001.1");
    await run.report(building);
    await run.report(live);
    expect(gh.requests.length).toBeGreaterThanOrEqual(4);
    for (const r of gh.requests) expect(r.headers["x-github-api-version"]).toBe("2022-11-28");
  });

  it("after a secondary rate limit without retry-after, no request starts for 60 s (60 × 10 ms in tests)", async () => {
    const run = runWith("3002.1");
    await run.report(building);
    gh.failNext({ ...secondaryRateLimit("PATCH", /\/issues\/comments\/\d+/, 1, 3), headers: {} });
    await run.report(live).catch(() => undefined);
    const limited = gh.requests.filter((r) => r.method === "PATCH" && r.status === 403);
    expect(limited).toHaveLength(3);
    await run.report(expired);
    const next = gh.requests.find((r) => r.at >= limited.at(-1)!.at && r.status !== 403);
    expect(next!.at - limited.at(-1)!.at).toBeGreaterThanOrEqual(600);
    for (let i = 1; i < limited.length; i++)
      expect(limited[i]!.at - limited[i - 1]!.at).toBeGreaterThanOrEqual(600);
  });
});

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { gitCommit, PR, type PreviewWorld, previewHooks, waitFor } from "../support/preview-fixture.js";

// Reviewers drive the preview from the PR: each command is its own issue_comment run, beside the job that
// holds the preview (two jobs at once, each with its own GITHUB_TOKEN, both github-actions[bot]).
const { newWorld } = previewHooks();
let world: PreviewWorld;
const HOLDER_TOKEN = "ghs_emulatortoken";
const COMMAND_TOKEN = "ghs_commandruntoken";

async function startWorld(): Promise<PreviewWorld> {
  world = await newWorld();
  world.github.addToken(COMMAND_TOKEN, { login: "github-actions[bot]", kind: "installation" });
  world.github.setRole("maintainer-mia", "maintain");
  world.github.setRole("triager-tom", "triage");
  return world;
}

/** The preview comments (ours, by the bot), newest run last. */
const previewComments = () => world.comments().filter((c) => c.user === "github-actions[bot]");
const stateOf = (body: string | undefined) => /state="([a-z]+)"/.exec(body ?? "")?.[1];
const holderState = () => stateOf(previewComments()[0]?.body);

/** A live holder job: pull_request run, 10 min preview. */
async function liveHolder(inputs: Record<string, string> = {}) {
  const holder = world.job({ duration: "10m", ...inputs });
  const main = holder.job.startMain();
  await waitFor("the holder's preview to be live", () => holderState() === "live");
  return { ...holder, main };
}

/** The holder's own comment polls (list requests with its token) since request index `from`. */
const holderPollsSince = (from: number) =>
  world.github.requests
    .slice(from)
    .filter(
      (r) =>
        r.method === "GET" &&
        r.path.startsWith(`/repos/octo-org/ml-app/issues/${PR}/comments`) &&
        r.headers.authorization === `token ${HOLDER_TOKEN}`,
    );

/** Runs a reviewer's command as its own job and waits for it to finish. */
async function command(body: string, login: string, inputs: Record<string, string> = {}) {
  const cmd = world.commandJob(body, login, { "github-token": COMMAND_TOKEN, ...inputs });
  const result = await cmd.job.main();
  return { ...cmd, result, endedAt: world.github.requests.length };
}

/** A command's job whose workspace `checkout` first makes a git checkout (as actions/checkout would). */
async function commandOnCheckout(body: string, login: string, checkout: (workspace: string) => unknown) {
  const cmd = world.commandJob(body, login, { "github-token": COMMAND_TOKEN, duration: "3s" });
  checkout(cmd.job.workspace);
  return { ...cmd, result: await cmd.job.main() };
}

/** The bot's replies to commands (all but the preview comments). */
const replies = () =>
  world.github
    .comments(PR)
    .filter((c) => c.user === "github-actions[bot]" && !c.body.startsWith("<!-- ml-preview"));

describe("/preview stop", () => {
  it("a maintainer's stop ends the live preview on the holder's next poll: stopped, by whom", async () => {
    await startWorld();
    const holder = await liveHolder();
    const stop = await command("/preview stop", "maintainer-mia");
    expect(stop.result.code, stop.result.stdout).toBe(0);
    expect(world.github.reactions(stop.commentId)).toEqual([
      "github-actions[bot]:eyes",
      "github-actions[bot]:+1",
    ]);
    // The request sits in the holder's own marker, after `run`.
    const requested = world.github.requests
      .slice(0, stop.endedAt)
      .findLast((r) => r.method === "PATCH" && r.headers.authorization === `token ${COMMAND_TOKEN}`);
    expect(String((requested?.body as { body?: string } | undefined)?.body)).toMatch(
      new RegExp(
        `^<!-- ml-preview name="app" state="live" run="${holder.runId}\\.1" request="stop" by="maintainer-mia" at="[^"]+" -->`,
      ),
    );
    await waitFor("stopped", () => holderState() === "stopped");
    // Within one poll: the first comment poll answered after the request was written found it.
    const all = world.github.requests;
    const written = all.indexOf(requested!);
    const stoppedWrite = all.findIndex(
      (r, i) => i > written && r.method === "PATCH" && /state=\\"stopped\\"/.test(JSON.stringify(r.body)),
    );
    expect(stoppedWrite).toBeGreaterThan(written);
    expect(holderPollsSince(written).filter((r) => all.indexOf(r) < stoppedWrite)).toHaveLength(1);
    const body = previewComments()[0]!.body;
    expect(body).toContain("@maintainer-mia stopped it with `/preview stop`");
    expect(body).not.toContain("request=");
    const result = await holder.main.done;
    expect(result.code).toBe(0);
    expect(result.outputs.status).toBe("stopped");
    expect(replies()).toEqual([]);
  });

  it("reaches a detached holder (wait: false) too; the post step then finds it ended", async () => {
    await startWorld();
    const holder = world.job({ duration: "10m", wait: "false" });
    const main = await holder.job.main();
    expect(main.outputs.status).toBe("live");
    const stop = await command("/preview stop", "maintainer-mia");
    expect(world.github.reactions(stop.commentId)).toContain("github-actions[bot]:+1");
    await waitFor("stopped", () => holderState() === "stopped");
    expect(previewComments()[0]!.body).toContain("@maintainer-mia stopped it");
    const post = await holder.job.post();
    expect(post.code).toBe(0);
    expect(post.stdout).toMatch(/ended cleanly/);
  });

  it("a stranger's command changes nothing and gets a reply saying why", async () => {
    await startWorld();
    const holder = await liveHolder();
    for (const [login, role] of [
      ["drive-by-dan", "read"],
      ["triager-tom", "triage"],
    ]) {
      const stop = await command("/preview stop", login!);
      expect(stop.result.code, stop.result.stdout).toBe(0);
      expect(world.github.reactions(stop.commentId)).toEqual([
        "github-actions[bot]:eyes",
        "github-actions[bot]:confused",
      ]);
      const reply = replies().at(-1)!;
      expect(reply.body).toContain(`@${login} only people with write access`);
      expect(reply.body).toContain(`\`${role}\``);
      // No request was written, and the holder polls on untouched.
      await waitFor("two more holder polls", () => holderPollsSince(stop.endedAt).length >= 2);
      expect(holderState()).toBe("live");
      expect(previewComments()[0]!.body).not.toContain("request=");
    }
    expect(replies()).toHaveLength(2);
    await command("/preview stop", "maintainer-mia");
    expect((await holder.main.done).outputs.status).toBe("stopped");
  });

  it("a stop request pasted into a stranger's comment is never read", async () => {
    await startWorld();
    const holder = await liveHolder();
    const at = new Date().toISOString();
    const forged = world.github.postComment(
      PR,
      `<!-- ml-preview name="app" state="live" run="${holder.runId}.1" request="stop" by="maintainer-mia" at="${at}" -->\nplease stop`,
      "mallory",
    );
    // Trusted, a newer run's marker would take the preview over: pasted by a stranger it is nothing.
    world.github.postComment(
      PR,
      `<!-- ml-preview name="app" state="live" run="${Number(holder.runId) + 1000}.1" -->\nmine now`,
      "mallory",
    );
    const from = world.github.requests.length;
    await waitFor("three holder polls", () => holderPollsSince(from).length >= 3);
    expect(holderState()).toBe("live");
    expect(world.github.comments(PR).find((c) => c.id === forged)?.user).toBe("mallory");
    await command("/preview stop", "maintainer-mia");
    expect((await holder.main.done).outputs.status).toBe("stopped");
  });
});

describe("/preview extend", () => {
  it("moves the expiry and the comment says what was granted, capped where the holding job ends", async () => {
    await startWorld();
    const holder = await liveHolder();
    const expiryText = () => /\*\*Expires\*\* ([0-9-]+ [0-9:]+ UTC)/.exec(previewComments()[0]!.body)?.[1];
    const before = expiryText()!;
    const ext = await command("/preview extend 30m", "maintainer-mia");
    expect(world.github.reactions(ext.commentId)).toContain("github-actions[bot]:+1");
    await waitFor("the extension in the comment", () => previewComments()[0]!.body.includes("Extended"));
    const plus30 = new Date(`${before.replace(" UTC", ":00Z").replace(" ", "T")}`);
    plus30.setUTCMinutes(plus30.getUTCMinutes() + 30);
    expect(expiryText()).toBe(`${plus30.toISOString().slice(0, 16).replace("T", " ")} UTC`);
    expect(previewComments()[0]!.body).toContain("**Extended** by 30 min at @maintainer-mia's request.");
    expect(previewComments()[0]!.body).not.toContain("request=");

    // 6 h more than a 5h50m job allows: granted only up to the job's end.
    const big = await command("/preview extend 6h", "maintainer-mia");
    expect(world.github.reactions(big.commentId)).toContain("github-actions[bot]:+1");
    await waitFor("the capped extension", () => previewComments()[0]!.body.includes("asked for 6 h"));
    expect(previewComments()[0]!.body).toMatch(
      /\*\*Extended\*\* by 5 h \d+ min at @maintainer-mia's request \(asked for 6 h; the job holding the preview ends then/,
    );
    await command("/preview stop", "maintainer-mia");
    const result = await holder.main.done;
    expect(result.outputs.status).toBe("stopped");
    // The holding job's step started at most a few seconds before the preview: its end is ~5h50m after.
    const expiresAt = new Date(result.outputs["expires-at"]!).getTime();
    expect(expiresAt).toBeGreaterThan(Date.now() + (5 * 60 + 45) * 60_000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + (5 * 60 + 50) * 60_000);
  });

  it("without a live preview, a malformed or unknown-preview command gets a short reply", async () => {
    await startWorld();
    const bad = await command("/preview extend soon", "maintainer-mia");
    expect(bad.result.code).toBe(0);
    // Answered only once the author's permission is known (👀 while it is looked up).
    expect(world.github.reactions(bad.commentId)).toEqual([
      "github-actions[bot]:eyes",
      "github-actions[bot]:confused",
    ]);
    expect(replies().at(-1)!.body).toContain("`soon` is not a duration");
    const none = await command("/preview extend 30m", "maintainer-mia");
    expect(world.github.reactions(none.commentId)).toEqual([
      "github-actions[bot]:eyes",
      "github-actions[bot]:confused",
    ]);
    expect(replies().at(-1)!.body).toContain("there is no live preview `app`");
    const chatter = await command("LGTM, /preview looks good", "maintainer-mia");
    expect(chatter.result.code).toBe(0);
    expect(world.github.reactions(chatter.commentId)).toEqual([]);
    expect(replies()).toHaveLength(2);
    expect(previewComments()).toEqual([]);
  });
});

describe("a command GitHub refuses", () => {
  it("fails the command's run and says why on the PR, with 😕", async () => {
    await startWorld();
    world.github.failNext({
      method: "GET",
      path: /\/collaborators\/maintainer-mia\/permission/,
      status: 403,
      count: 1,
      body: { message: "Resource not accessible by integration", status: "403" },
    });
    const stop = await command("/preview stop", "maintainer-mia");
    expect(stop.result.code).toBe(1);
    expect(world.github.reactions(stop.commentId)).toEqual([
      "github-actions[bot]:eyes",
      "github-actions[bot]:confused",
    ]);
    expect(replies().at(-1)!.body).toMatch(
      /@maintainer-mia the command failed: .*permission of @maintainer-mia/,
    );
  });
});

describe("/preview", () => {
  it("on a PR with no preview starts one of the PR's head, in the command's own run", async () => {
    await startWorld();
    const start = await command("/preview", "maintainer-mia", { duration: "3s" });
    expect(start.result.code, start.result.stdout).toBe(0);
    expect(start.result.outputs.status).toBe("expired");
    expect(world.github.reactions(start.commentId)).toEqual([
      "github-actions[bot]:eyes",
      "github-actions[bot]:rocket",
    ]);
    expect(world.commentStates()).toEqual(expect.arrayContaining(["building", "live", "expired"]));
    expect(previewComments()[0]!.body).toContain("feedfac");
    expect((await start.job.post()).code).toBe(0);
  });

  it("builds a fork's code only on the word of someone who may push, for the commit they name", async () => {
    await startWorld();
    const reviewed = gitCommit(world.job({}).job.workspace);
    world.github.addPull({ number: PR, headSha: reviewed, headRef: "feature/model-v2", fork: true });
    const triage = await commandOnCheckout(`/preview ${reviewed}`, "triager-tom", (ws) => gitCommit(ws));
    expect(world.github.reactions(triage.commentId)).toEqual([
      "github-actions[bot]:eyes",
      "github-actions[bot]:confused",
    ]);
    expect(previewComments()).toEqual([]);
    // A bare /preview on a fork's PR builds nothing: the reply says how to name the reviewed commit.
    const bare = await commandOnCheckout("/preview", "maintainer-mia", (ws) => gitCommit(ws));
    expect(bare.result.code, bare.result.stdout).toBe(0);
    expect(world.github.reactions(bare.commentId)).toEqual([
      "github-actions[bot]:eyes",
      "github-actions[bot]:confused",
    ]);
    expect(replies().at(-1)?.body).toContain(`comment \`/preview ${reviewed.slice(0, 12)}\``);
    expect(previewComments()).toEqual([]);
    const start = await commandOnCheckout(`/preview ${reviewed.slice(0, 7)}`, "maintainer-mia", (ws) =>
      gitCommit(ws),
    );
    expect(start.result.outputs.status, start.result.stdout).toBe("expired");
    expect(start.result.stdout).toContain("a fork's code, on a maintainer's word for that commit");
    expect(world.commentStates()).toContain("live");
  });

  it("a push between the maintainer's `/preview SHA` and the job's checkout builds nothing, says why", async () => {
    await startWorld();
    const probe = world.job({}).job.workspace;
    const reviewed = gitCommit(probe);
    writeFileSync(join(probe, "payload.sh"), "steal the secrets");
    const pushed = gitCommit(probe, "pushed after the review");
    const pushAfterReview = (ws: string) => {
      gitCommit(ws);
      writeFileSync(join(ws, "payload.sh"), "steal the secrets");
      expect(gitCommit(ws, "pushed after the review")).toBe(pushed);
    };
    // The new commit is the PR's head: the named commit is not.
    world.github.addPull({ number: PR, headSha: pushed, headRef: "feature/model-v2", fork: true });
    const moved = await commandOnCheckout(`/preview ${reviewed}`, "maintainer-mia", pushAfterReview);
    expect(replies().at(-1)?.body).toContain(
      `the commit you named, \`${reviewed.slice(0, 12)}\`, is not the pull request's head (\`${pushed.slice(0, 12)}\`)`,
    );
    expect(moved.result.stdout).toMatch(/^::warning::Nothing was built: the commit you named/m);
    // Force-pushed back to the reviewed commit before the run read the PR: the checkout still holds the push.
    world.github.addPull({ number: PR, headSha: reviewed, headRef: "feature/model-v2", fork: true });
    const forced = await commandOnCheckout(`/preview ${reviewed}`, "maintainer-mia", pushAfterReview);
    expect(replies().at(-1)?.body).toContain(
      `the workspace holds \`${pushed.slice(0, 12)}\`, but the pull request's head is \`${reviewed.slice(0, 12)}\``,
    );
    for (const run of [moved, forced]) {
      expect(run.result.code).toBe(0);
      expect(world.github.reactions(run.commentId)).toEqual([
        "github-actions[bot]:eyes",
        "github-actions[bot]:confused",
      ]);
      expect(run.result.stdout).not.toMatch(/Building|docker build|Step 1/i);
    }
    expect(previewComments()).toEqual([]);
  });

  it("a stranger's malformed command gets no reply that repeats their text", async () => {
    await startWorld();
    const stranger = await command("/preview restart **[click me](https://evil.example)**", "triager-tom");
    expect(world.github.reactions(stranger.commentId)).toEqual([
      "github-actions[bot]:eyes",
      "github-actions[bot]:confused",
    ]);
    const reply = world.github.comments(PR).at(-1)!;
    expect(reply.user).toBe("github-actions[bot]");
    expect(reply.body).toContain("@triager-tom only people with write access");
    expect(reply.body).not.toContain("evil.example");
  });

  it("on a PR whose preview is live restarts it: the running one ends superseded", async () => {
    await startWorld();
    const holder = await liveHolder();
    const restart = await command("/preview", "maintainer-mia", { duration: "3s" });
    expect(restart.result.outputs.status).toBe("expired");
    const result = await holder.main.done;
    expect(result.outputs.status).toBe("superseded");
    expect(previewComments()).toHaveLength(1);
    expect(stateOf(previewComments()[0]!.body)).toBe("expired");
  });
});

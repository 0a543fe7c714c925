import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, writeFileSync } from "node:fs";
import { get } from "node:http";
import { join } from "node:path";
import Docker from "dockerode";
import { afterEach, beforeAll, expect } from "vitest";
import {
  busyboxHttpdDockerfile,
  busyboxPath,
  containersWithLabel,
  networksWithLabel,
  requireDocker,
} from "./docker.js";
import { type GitHubEmulator, startGitHubEmulator } from "./github-emulator/index.js";
import { type NgrokEdge, startNgrokEdge } from "./ngrok-edge/index.js";
import { RunnerHarness, type RunningStep, type StepResult } from "./runner.js";

export const PR = 12;
export const HEAD_SHA = "feedfacecafebeef0123456789abcdef01234567";

/** A pull_request event payload for PR #12 of octo-org/ml-app, from the same repository. */
export function pullRequestEvent(number = PR) {
  return {
    action: "synchronize",
    number,
    pull_request: {
      number,
      state: "open",
      head: { sha: HEAD_SHA, ref: "feature/model-v2", repo: { full_name: "octo-org/ml-app", fork: false } },
      base: { ref: "main", repo: { full_name: "octo-org/ml-app" } },
      labels: [],
    },
    repository: { full_name: "octo-org/ml-app" },
  };
}

/**
 * An issue_comment (created) payload for a comment on PR #12, as GitHub sends it: `issue.pull_request`
 * marks the issue as a pull request; the payload has no head commit (the run reads the PR from the API).
 */
export function pullCommentEvent(comment: { id: number; body: string; login: string }, number = PR) {
  return {
    action: "created",
    issue: {
      number,
      state: "open",
      pull_request: { url: `https://api.github.com/repos/octo-org/ml-app/pulls/${number}` },
    },
    comment: { id: comment.id, body: comment.body, user: { login: comment.login, type: "User" } },
    repository: { full_name: "octo-org/ml-app" },
  };
}

/**
 * A fresh GITHUB_RUN_ID per job, so labels never collide on the shared engine: not across tests, nor across
 * test files running at once (or other checkouts' tests), because it starts from this process's id. Later
 * jobs of one file get larger ids (a newer run), and they stay below 11 digits like GitHub's.
 */
let runCounter = (process.pid % 10_000_000) * 1000;
export const nextRunId = () => String(++runCounter);

/** The outside world of one preview job: a GitHub emulator with PR #12 and a loopback ngrok edge. */
export class PreviewWorld {
  /** The container label of every job made in this world (`ml-preview.run=<id>.1`). */
  readonly labels: string[] = [];

  private constructor(
    readonly github: GitHubEmulator,
    readonly edge: NgrokEdge,
  ) {}

  /** `repo` (owner/name): another repository than octo-org/ml-app (its jobs need the matching env and event). */
  static async start(opts: { repo?: string } = {}): Promise<PreviewWorld> {
    const [owner, repo] = opts.repo?.split("/") ?? [];
    const github = await startGitHubEmulator({ owner, repo });
    github.addPull({ number: PR, headSha: HEAD_SHA, headRef: "feature/model-v2" });
    return new PreviewWorld(github, await startNgrokEdge());
  }

  /** A runner job whose workspace holds a FROM-scratch busybox app (the Dockerfile may be replaced). */
  job(
    inputs: Record<string, string>,
    opts: {
      dockerfile?: string;
      runId?: string;
      env?: Record<string, string>;
      eventName?: string;
      event?: unknown;
      node?: string;
    } = {},
  ) {
    const runId = opts.runId ?? nextRunId();
    // The job's workflow run exists on GitHub while it runs: the Actions API answers in_progress for it
    // (a test that kills the job says when the run completed).
    this.github.setWorkflowRun(runId, { status: "in_progress" });
    const job = new RunnerHarness({
      inputs: {
        "ngrok-authtoken": "test-authtoken",
        "ngrok-server-addr": this.edge.serverAddr,
        "ngrok-ca-cert": this.edge.caCert,
        ...inputs,
      },
      eventName: opts.eventName,
      event: opts.event ?? pullRequestEvent(),
      node: opts.node,
      env: {
        GITHUB_API_URL: this.github.url,
        GITHUB_RUN_ID: runId,
        ML_PREVIEW_POLL_INTERVAL: "1s",
        ...opts.env,
      },
    });
    copyFileSync(busyboxPath(), join(job.workspace, "busybox"));
    writeFileSync(join(job.workspace, "Dockerfile"), opts.dockerfile ?? busyboxHttpdDockerfile(8080));
    const label = `ml-preview.run=${runId}.1`;
    this.labels.push(label);
    return { job, runId, label };
  }

  /** A job's main step started, once the PR comment says live. */
  async liveJob(inputs: Record<string, string>, opts: Parameters<PreviewWorld["job"]>[1] = {}) {
    const run = this.job(inputs, opts);
    const main = run.job.startMain();
    await waitFor("the comment to say live", this.commentStateIs("live"));
    return { ...run, main };
  }

  /**
   * A reviewer's comment on PR #12 and the issue_comment job it starts (its own run, beside any job that
   * holds a preview): `commentId` is the comment its reactions go on.
   */
  commandJob(body: string, login: string, inputs: Record<string, string> = {}) {
    const commentId = this.github.postComment(PR, body, login);
    const event = pullCommentEvent({ id: commentId, body, login });
    return { ...this.job(inputs, { eventName: "issue_comment", event }), commentId };
  }

  /** Every state the PR comment was written with, in order (from the bodies sent to the emulator). */
  commentStates(): string[] {
    return this.github.requests
      .filter(
        (r) => (r.method === "POST" || r.method === "PATCH") && /\/comments/.test(r.path) && r.status < 300,
      )
      .map((r) => /state="([a-z]+)"/.exec(String((r.body as { body?: string })?.body ?? ""))?.[1] ?? "?");
  }

  comments() {
    return this.github.comments(PR).filter((c) => c.body.startsWith("<!-- ml-preview"));
  }

  /** The state the PR comment shows now (its marker's `state`). */
  commentState(): string | undefined {
    return /state="([a-z]+)"/.exec(this.comments()[0]?.body ?? "")?.[1];
  }

  /** A `waitFor` predicate: does the PR comment show `state` now? */
  commentStateIs(state: string): () => boolean {
    return () => this.commentState() === state;
  }

  /** The link the comment shows now (the loopback edge's URLs are http://127.0.0.1:PORT). */
  liveUrl(): string | undefined {
    return /\]\((http:\/\/127\.0\.0\.1:\d+)[^)]*\)/.exec(this.comments()[0]?.body ?? "")?.[1];
  }

  /**
   * Once the app of crashOnCueDockerfile crashed: the comment says failed with its exit code (3) and last
   * words, and main ends failed. Returns main's result.
   */
  async crashReported(main: RunningStep): Promise<StepResult> {
    await waitFor("the comment to say failed", this.commentStateIs("failed"));
    const body = this.comments()[0]!.body;
    expect(body).toMatch(/exit code\D*3/i);
    expect(body).toContain("model weights corrupted");
    const result = await main.done;
    expect(result.code).toBe(1);
    expect(result.outputs.status).toBe("failed");
    return result;
  }

  /**
   * Everything a job let out where no secret may appear: its log (beyond the mask commands themselves),
   * outputs, summary and every body sent to GitHub.
   */
  everythingSaid(result: StepResult): string {
    return [
      result.stdout.replace(/^::add-mask::.*$/gm, ""),
      result.stderr,
      JSON.stringify(result.outputs),
      result.summary,
      ...this.github.requests.map((r) => JSON.stringify(r.body ?? "")),
    ].join("\n");
  }

  private closed?: Promise<void>;

  /** Closes the emulator and the edge; safe to repeat (a test may close its world before the hooks do). */
  close(): Promise<void> {
    this.closed ??= Promise.all([this.github.close(), this.edge.close()]).then(() => undefined);
    return this.closed;
  }
}

/**
 * Makes `dir` a git checkout (as actions/checkout leaves the workspace) and commits what it holds; returns the
 * commit. Called again after a change, it commits that change: the fork author's next push.
 */
export function gitCommit(dir: string, message = "the reviewed code"): string {
  // Fixed dates: the same files and history give the same commit in every workspace (each job has its own).
  const date = "2026-12-01T12:00:00Z";
  const git = (...args: string[]) =>
    execFileSync("git", ["-c", "user.name=Fork Author", "-c", "user.email=fork@example.com", ...args], {
      cwd: dir,
      encoding: "utf8",
      env: { ...process.env, GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date },
    }).trim();
  if (!existsSync(join(dir, ".git"))) git("init", "--quiet");
  git("add", "--all");
  git("commit", "--quiet", "--allow-empty", "--message", message);
  return git("rev-parse", "HEAD");
}

/** Poll until `fn` returns a truthy value, or fail after `ms` with `what`. */
export async function waitFor<T>(
  what: string,
  fn: () => T | Promise<T>,
  ms = 60_000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function leftContainers(docker: Docker, label: string): Promise<string[]> {
  return containersWithLabel(docker, label);
}

/**
 * What every e2e file that runs the bundled action sets up: the engine (checked before all tests), and after
 * each test its worlds closed and no container (nor app network) left by any job made in them. In that
 * order: the file's own stand-ins back to healthy (`resetFirst`: a fault left on must not hang what
 * follows), leftovers removed (so one failure does not spill into the next test) and noted, the worlds
 * closed, the file's own clean-up (`cleanLast`), and only then the leftovers reported.
 */
export function previewHooks(opts: { resetFirst?: () => unknown; cleanLast?: () => Promise<void> } = {}): {
  docker: Docker;
  newWorld: () => Promise<PreviewWorld>;
} {
  const docker = new Docker();
  const worlds: PreviewWorld[] = [];
  beforeAll(() => requireDocker(docker));
  afterEach(async () => {
    await opts.resetFirst?.();
    const left: string[] = [];
    for (const world of worlds.splice(0)) {
      for (const label of world.labels) {
        for (const id of await leftContainers(docker, label)) {
          left.push(`${label}: ${id.slice(0, 12)}`);
          await docker.getContainer(id).remove({ force: true });
        }
        // The app's own network goes with its container, on every path.
        for (const name of await networksWithLabel(docker, label)) {
          left.push(`${label}: network ${name}`);
          await docker.getNetwork(name).remove();
        }
      }
      await world.close();
    }
    await opts.cleanLast?.();
    expect(left, "containers left behind").toEqual([]);
  });
  return {
    docker,
    newWorld: async () => {
      const world = await PreviewWorld.start();
      worlds.push(world);
      return world;
    },
  };
}

/** GET a URL (through the tunnel too: ngrok's browser warning is skipped) and read the whole body. */
export function fetchText(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, { headers: { "ngrok-skip-browser-warning": "1", ...headers } }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    }).on("error", reject);
  });
}

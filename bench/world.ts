import type Docker from "dockerode";
import { commentReporter } from "../src/action/reporters.js";
import { parseConfig } from "../src/config/parse.js";
import type { Inputs, PreviewConfig } from "../src/config/types.js";
import { dockerRuntime } from "../src/docker/runtime.js";
import { StickyComment } from "../src/github/comment.js";
import { createOctokit, type Octokit } from "../src/github/octokit.js";
import type { PreviewDeps } from "../src/lifecycle/preview.js";
import type { Reporter } from "../src/lifecycle/types.js";
import type { GitHubEmulator, RecordedRequest } from "../test/support/github-emulator/index.js";
import { startGitHubEmulator } from "../test/support/github-emulator/index.js";
import { type NgrokEdge, startNgrokEdge } from "../test/support/ngrok-edge/index.js";
import { BENCH_RUN, benchLabels } from "./app.js";
import { benchLogger } from "./log.js";
import { wallNow } from "./stats.js";
import { removeTempDir, tempDir } from "./temp.js";

const PR = 12;
const HEAD_SHA = "feedfacecafebeef0123456789abcdef01234567";

/**
 * What a preview job talks to, all on loopback: the GitHub emulator (through the real Octokit, built by
 * our createOctokit) and the ngrok edge (through the real SDK). Records when the emulator received each
 * comment body, by state, so a figure can end its clock when GitHub has the text.
 */
export class PreviewWorld {
  /** Wall-clock time the emulator received a comment write, by the state it carried. */
  readonly commentAt = new Map<string, number>();
  readonly log = benchLogger();
  readonly octokit: Octokit;
  private runs = 0;
  private readonly workspace = tempDir("ws");

  private constructor(
    readonly github: GitHubEmulator,
    readonly edge: NgrokEdge,
  ) {
    github.addPull({ number: PR, headSha: HEAD_SHA, headRef: "bench" });
    this.octokit = createOctokit(github.token, { baseUrl: github.url, log: this.log, fastRetries: true });
    const push = github.requests.push.bind(github.requests);
    github.requests.push = (...items: RecordedRequest[]) => {
      const at = wallNow();
      for (const r of items) {
        const body = String((r.body as { body?: unknown } | undefined)?.body ?? "");
        const state = /state="([a-z]+)"/.exec(body)?.[1];
        if (state && /\/comments/.test(r.path) && (r.method === "PATCH" || r.method === "POST"))
          this.commentAt.set(state, at);
      }
      return push(...items);
    };
  }

  static async start(): Promise<PreviewWorld> {
    return new PreviewWorld(await startGitHubEmulator(), await startNgrokEdge());
  }

  /** A config as the Action would parse it: the given image, a tunnel through the loopback edge. */
  config(inputs: Inputs): PreviewConfig {
    return parseConfig(
      {
        "ngrok-authtoken": "test-authtoken",
        "ngrok-server-addr": this.edge.serverAddr,
        "ngrok-ca-cert": this.edge.caCert,
        "github-token": this.github.token,
        ...inputs,
      },
      { workspace: this.workspace },
    );
  }

  /** Dependencies of one preview job, as src/action/setup.ts wires them: a fresh run id, the sticky comment. */
  deps(
    docker: Docker,
    config: PreviewConfig,
    signal: AbortSignal,
    around: { before?: Reporter; after?: Reporter },
  ): PreviewDeps {
    this.commentAt.clear();
    const runId = `${++this.runs + 1000}.1`;
    const run = {
      owner: this.github.owner,
      repo: this.github.repo,
      runId,
      runUrl: `https://github.com/${this.github.owner}/${this.github.repo}/actions/runs/${runId}`,
      sha: HEAD_SHA,
      eventName: "pull_request",
    };
    const comment = new StickyComment(this.octokit, run, PR, config.name, {
      qrCode: config.github.qrCode,
      secrets: config.secrets,
      log: this.log,
    });
    const reporters = [around.before, commentReporter(comment, this.log), around.after].filter(
      (r): r is Reporter => r !== undefined,
    );
    return {
      runtime: dockerRuntime(config, { docker, log: this.log, labels: benchLabels(config.name) }),
      log: this.log,
      reporters,
      signal,
      metadata: { repo: `${run.owner}/${run.repo}`, pr: PR, run: `${BENCH_RUN}-${runId}`, name: config.name },
      commit: HEAD_SHA,
      pollIntervalMs: 60_000,
      superseded: () => comment.isSuperseded(),
    };
  }

  async close(): Promise<void> {
    await Promise.all([this.github.close(), this.edge.close()]);
    removeTempDir(this.workspace);
  }
}

/** A reporter that only notes when each event reached it (and lets a figure react). */
export function clockReporter(
  at: Map<string, number>,
  onEvent?: (event: string, details: Parameters<Reporter["report"]>[0]["details"]) => Promise<void>,
): Reporter {
  return {
    name: "bench clock",
    async report(e) {
      if (!at.has(e.event)) at.set(e.event, wallNow());
      await onEvent?.(e.event, e.details);
    },
  };
}

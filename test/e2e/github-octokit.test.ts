import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createOctokit } from "../../src/github/octokit.js";
import type { Logger } from "../../src/log.js";
import {
  type GitHubEmulator,
  primaryRateLimit,
  secondaryRateLimit,
  startGitHubEmulator,
} from "../support/github-emulator/index.js";

describe("createOctokit against the GitHub emulator", () => {
  let gh: GitHubEmulator;
  const warnings: string[] = [];
  const log: Logger = { info() {}, debug() {}, warning: (m) => warnings.push(m), group: (_t, fn) => fn() };

  beforeEach(async () => {
    warnings.length = 0;
    gh = await startGitHubEmulator();
    gh.addPull({ number: 5, headSha: "5".repeat(40), headRef: "five" });
  });
  afterEach(() => gh.close());

  const getPull = (octokit: ReturnType<typeof createOctokit>) =>
    octokit.rest.pulls.get({ owner: gh.owner, repo: gh.repo, pull_number: 5 });

  it("takes its base URL from GITHUB_API_URL (GitHub Enterprise Server)", async () => {
    const saved = process.env.GITHUB_API_URL;
    process.env.GITHUB_API_URL = `${gh.url}/`;
    try {
      const { data } = await getPull(createOctokit(gh.token, { log, fastRetries: true }));
      expect(data.head.sha).toBe("5".repeat(40));
    } finally {
      if (saved === undefined) delete process.env.GITHUB_API_URL;
      else process.env.GITHUB_API_URL = saved;
    }
  });

  it("retries primary and secondary rate limits twice, warning each time, then gives up", async () => {
    const octokit = createOctokit(gh.token, { baseUrl: gh.url, log, fastRetries: true });
    gh.failNext(primaryRateLimit("GET", /\/pulls\/5/, 1, 1));
    gh.failNext(secondaryRateLimit("GET", /\/pulls\/5/, 1, 1));
    expect((await getPull(octokit)).status).toBe(200);
    expect(warnings.map((w) => w.split(" rate limit")[0])).toEqual(["GitHub primary", "GitHub secondary"]);

    warnings.length = 0;
    gh.failNext(secondaryRateLimit("GET", /\/pulls\/5/, 1, 3));
    await expect(getPull(octokit)).rejects.toMatchObject({ status: 403 });
    expect(warnings).toHaveLength(3);
    expect(warnings.at(-1)).toContain("giving up");
  });

  it("retries 5xx answers", async () => {
    const octokit = createOctokit(gh.token, { baseUrl: gh.url, log, fastRetries: true });
    gh.failNext({ method: "GET", path: /\/pulls\/5/, status: 502, count: 3 });
    expect((await getPull(octokit)).status).toBe(200);
    expect(gh.requests.filter((r) => r.status === 502)).toHaveLength(3);
  });

  it("a request its caller aborts (with a reason) ends at once: it is not retried as a network error", async () => {
    const octokit = createOctokit(gh.token, { baseUrl: gh.url, log });
    const held = gh.hold({ method: "GET", path: /\/pulls\/5$/ });
    const stop = new AbortController();
    const asked = octokit.rest.pulls.get({
      owner: gh.owner,
      repo: gh.repo,
      pull_number: 5,
      request: { signal: stop.signal },
    });
    await held.arrived;
    stop.abort(new Error("the workflow run was cancelled"));
    await expect(asked).rejects.toMatchObject({ name: "AbortError" });
    // Not retried: a retried request would end as the retry plugin's wrapped network error (HttpError).
    held.release();
  });
});

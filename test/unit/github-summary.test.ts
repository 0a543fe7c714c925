import { describe, expect, it } from "vitest";
import type { RunContext } from "../../src/github/pull-request.js";
import { renderSummary } from "../../src/github/summary.js";

const run: RunContext = {
  owner: "acme",
  repo: "models",
  runId: "42.1",
  runUrl: "https://github.com/acme/models/actions/runs/42",
  sha: "0123456789abcdef",
  eventName: "workflow_dispatch",
};
const at = new Date("2025-01-31T12:00:00Z");

describe("renderSummary", () => {
  it("lists URL, local URL, expiry, image, container and phase timings", () => {
    const md = renderSummary(
      {
        state: "live",
        details: {
          url: "https://x.ngrok-free.app",
          localUrl: "http://127.0.0.1:49152",
          expiresAt: new Date(at.getTime() + 90 * 60_000),
          image: "sha256:feedbeef",
          containerId: "c0ffee0123456789abcdef",
          phases: { build: 12_345, run: 800, ready: 2_100, tunnel: 610 },
        },
      },
      { name: "app", run, now: at },
    );
    expect(md).toMatchInlineSnapshot(`
      "### ml-preview \`app\`: live

      | | |
      |---|---|
      | State | **live** |
      | URL | https://x.ngrok-free.app |
      | Local URL | \`http://127.0.0.1:49152\` |
      | Expires | 2025-01-31 13:30 UTC (in 1 h 30 min) |
      | Image | \`sha256:feedbeef\` |
      | Container | \`c0ffee012345\` |
      | Commit | \`0123456\` |

      | Phase | Time |
      |---|--:|
      | build | 12.3 s |
      | run | 0.8 s |
      | ready | 2.1 s |
      | tunnel | 0.6 s |

      [Workflow run](https://github.com/acme/models/actions/runs/42)
      "
    `);
  });

  it("explains a skip and how to enable it, and strikes a dead URL", () => {
    const md = renderSummary(
      { state: "expired", details: { url: "https://x.ngrok-free.app", reason: "Time | is up", at } },
      { name: "app", run },
    );
    expect(md).toContain("| URL | ~~https://x.ngrok-free.app~~ |");
    expect(md).toContain("| Why | Time \\| is up |");
    const skipped = renderSummary(
      { state: "skipped", details: { reason: "fork", hint: "use allow-fork-label" } },
      { name: "app", run },
    );
    expect(skipped).toContain("**How to enable it:** use allow-fork-label");
  });

  it("never contains a secret", () => {
    const secret = "ngrok_2abcdefSECRET";
    const md = renderSummary(
      {
        state: "failed",
        details: {
          step: "tunnel",
          error: `authtoken ${secret} is invalid`,
          logLines: [`token=${secret}`],
          reason: secret,
        },
      },
      { name: "app", run, secrets: [secret] },
    );
    expect(md).not.toContain(secret);
    expect(md).toContain("authtoken *** is invalid");
  });
});

describe("renderSummary build facts", () => {
  it("shows how many build steps came from the cache", () => {
    const run = {
      owner: "o",
      repo: "r",
      runId: "1.1",
      runUrl: "https://github.com/o/r/actions/runs/1",
      sha: "abc",
      eventName: "pull_request",
    };
    const md = renderSummary(
      {
        state: "live",
        details: {
          url: "https://x.ngrok-free.app",
          buildCache: { cachedSteps: 5, totalSteps: 6 },
          phases: { build: 350 },
        },
      },
      { name: "app", run, now: new Date() },
    );
    expect(md).toContain("| Build cache | 5 of 6 steps from cache |");
    expect(md).toMatch(/\| build \| 0\.[34] s \|/);
  });
});

import { describe, expect, it } from "vitest";
import type { PreviewState } from "../../src/config/types.js";
import { parseMarker } from "../../src/github/marker.js";
import type { RunContext } from "../../src/github/pull-request.js";
import { render } from "../../src/github/render.js";
import type { StateDetails } from "../../src/lifecycle/types.js";

const run: RunContext = {
  owner: "acme",
  repo: "models",
  runId: "9876543210.2",
  runUrl: "https://github.com/acme/models/actions/runs/9876543210/attempts/2",
  sha: "0123456789abcdef0123456789abcdef01234567",
  eventName: "pull_request",
};
const at = new Date("2025-01-31T12:00:00Z");
const url = "https://brave-otter-42.ngrok-free.app";
const secrets = ["s3cr3t-ngrok-token", "hunter2hunter2"];

const cases: Record<PreviewState, StateDetails> = {
  building: { commit: "fedcba9876543210", startedAt: at, at },
  starting: { commit: "fedcba9876543210", image: "sha256:abcdef", at },
  live: {
    url,
    localUrl: "http://127.0.0.1:49152",
    expiresAt: new Date(at.getTime() + 30 * 60_000),
    commit: "fedcba9876543210",
    qrCode: true,
    protected: true,
    at,
  },
  failed: {
    step: "build",
    error: "RUN pip install failed: token s3cr3t-ngrok-token rejected",
    exitCode: 1,
    logLines: ["\u001b[31mERROR\u001b[0m: Could not find torch==9.9", "password=hunter2hunter2", "done"],
    commit: "fedcba9876543210",
    at,
  },
  expired: { url, reason: "Its 30 min ran out.", at },
  stopped: { url, reason: "Pull request #12 was closed.", at },
  superseded: { url, reason: "Run 9876543299.1 took the preview over.", at },
  skipped: {
    reason: "Pull request #12 comes from a fork, and fork runs get no ngrok token.",
    hint: "Use pull_request_target with `allow-fork-label`.",
    at,
  },
};

describe("render", () => {
  for (const [state, details] of Object.entries(cases) as Array<[PreviewState, StateDetails]>) {
    it(`renders ${state}`, () => {
      const body = render({ state, details }, { name: "app", run, secrets });
      expect(body).toMatchSnapshot();
      expect(body.split("\n")[0]).toBe(`<!-- ml-preview name="app" state="${state}" run="9876543210.2" -->`);
      expect(parseMarker(body)).toEqual({ name: "app", state, run: "9876543210.2" });
      expect(body).toContain(`](${run.runUrl})`);
      for (const secret of secrets) expect(body).not.toContain(secret);
    });
  }

  it("live: link, expiry in UTC and relative, the protection by name, browser-warning advice, no QR code", () => {
    const body = render(
      { state: "live", details: { ...cases.live, protected: "basic auth, OAuth (google)" } },
      { name: "app", run },
    );
    expect(body).toContain(`**[${url}](${url})**`);
    expect(body).toContain("2025-01-31 12:30 UTC — in 30 min");
    expect(body).toContain(
      "- 🔒 **Protected** by basic auth, OAuth (google): visitors must pass it to see the app.",
    );
    // As GitHub renders a comment, a text QR code does not scan (test/e2e/comment-qr.test.ts).
    expect(body).not.toContain("QR code");
    expect(body).toContain("ngrok-skip-browser-warning");
    expect(body).not.toMatch(/data:image|<svg|https:\/\/(api\.)?qr/i);
  });

  it("live: no QR code when turned off, no ngrok advice on a custom domain", () => {
    const body = render(
      { state: "live", details: { ...cases.live, qrCode: false, url: "https://preview.acme.dev" } },
      { name: "app", run },
    );
    expect(body).not.toContain("QR code");
    expect(body).not.toContain("ngrok-skip-browser-warning");
  });

  it("live: says who extended it, by how much, and when the holding job capped the request", () => {
    const full = { by: "mia", requestedMs: 30 * 60_000, grantedMs: 30 * 60_000 };
    const capped = { by: "mia", requestedMs: 6 * 3_600_000, grantedMs: 95 * 60_000 };
    const shown = (extension: typeof full) =>
      render({ state: "live", details: { ...cases.live, extension } }, { name: "app", run });
    expect(shown(full)).toContain("- **Extended** by 30 min at @mia's request.");
    expect(shown(capped)).toContain(
      "- **Extended** by 1 h 35 min at @mia's request (asked for 6 h; the job holding the preview ends then",
    );
    expect(render({ state: "live", details: cases.live }, { name: "app", run })).not.toContain("Extended");
  });

  it("never links a URL that no longer answers", () => {
    for (const state of ["expired", "stopped", "superseded"] as const) {
      const body = render({ state, details: cases[state] }, { name: "app", run });
      expect(body).toContain(`~~\`${url}\`~~`);
      expect(body).not.toContain(`](${url})`);
      expect(body).toContain("2025-01-31 12:00 UTC");
    }
  });

  it("failed: step, exit code, error and last log lines in a collapsed block, without colour codes", () => {
    const body = render({ state: "failed", details: cases.failed }, { name: "app", run, secrets });
    expect(body).toContain("**Step:** `build` · **Exit code:** 1");
    expect(body).toMatch(
      /<details><summary>Last 3 log lines<\/summary>\n\n```text\nERROR: Could not find torch==9.9\npassword=\*\*\*\ndone\n```/,
    );
    expect(body).not.toContain("\u001b");
  });

  it("failed: keeps only the last 50 log lines and a fence that the log cannot close", () => {
    const logLines = Array.from({ length: 80 }, (_, i) => (i === 79 ? "```` tricky" : `line ${i}`));
    const body = render({ state: "failed", details: { step: "run", logLines } }, { name: "app", run });
    expect(body).not.toContain("line 29\n");
    expect(body).toContain("line 30\n");
    expect(body).toContain("`````text\nline 30");
  });

  it("scrubs URL-encoded secrets too", () => {
    const body = render(
      { state: "failed", details: { step: "tunnel", error: "bad token a%2Fb%3Dc" } },
      { name: "app", run, secrets: ["a/b=c"] },
    );
    expect(body).toContain("bad token ***");
  });
});

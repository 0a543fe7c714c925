import { describe, expect, it } from "vitest";
import { parseMarker } from "../../src/github/marker.js";
import type { RunContext } from "../../src/github/pull-request.js";
import { render } from "../../src/github/render.js";
import { endedBody, endedState } from "../../src/github/sweep.js";

const run: RunContext = {
  owner: "acme",
  repo: "models",
  runId: "42.1",
  runUrl: "https://github.com/acme/models/actions/runs/42",
  sha: "0123456789abcdef0123456789abcdef01234567",
  eventName: "pull_request",
};
const at = new Date("2025-01-31T12:00:00Z");
const expiresAt = new Date("2025-01-31T12:30:40Z");
const live = render(
  { state: "live", details: { url: "https://x.ngrok-free.app", expiresAt, commit: "fedcba98", at } },
  { name: "app", run },
);
const building = render({ state: "building", details: { commit: "fedcba98", at } }, { name: "app", run });
const minutes = (n: number) => new Date(at.getTime() + n * 60_000);

describe("endedState: what the sweep can establish from a comment alone", () => {
  it("live: expired only once the minute of its expiry is over", () => {
    const m = parseMarker(live)!;
    expect(endedState(live, m, at, minutes(30))).toBeUndefined();
    expect(endedState(live, m, at, minutes(31))).toBe("expired");
  });

  it("building/starting (no expiry): stopped only when untouched for longer than a job runs (6 h)", () => {
    const m = parseMarker(building)!;
    expect(endedState(building, m, at, minutes(6 * 60))).toBeUndefined();
    expect(endedState(building, m, at, minutes(6 * 60 + 1))).toBe("stopped");
  });

  it("a final state is never touched", () => {
    const expired = live.replace('state="live"', 'state="expired"');
    expect(endedState(expired, parseMarker(expired)!, at, minutes(24 * 60))).toBeUndefined();
  });
});

describe("endedState with the run's fate from the Actions API", () => {
  it("a run still at work keeps its comment, even past the expiry or untouched for a day", () => {
    expect(endedState(live, parseMarker(live)!, at, minutes(31), "running")).toBeUndefined();
    expect(endedState(building, parseMarker(building)!, at, minutes(24 * 60), "running")).toBeUndefined();
  });

  it("a run that is over: expired once the expiry has passed, else stopped at once", () => {
    expect(endedState(live, parseMarker(live)!, at, minutes(31), "over")).toBe("expired");
    expect(endedState(live, parseMarker(live)!, at, minutes(5), "over")).toBe("stopped");
    expect(endedState(building, parseMarker(building)!, at, minutes(1), "over")).toBe("stopped");
    expect(endedState(live, parseMarker(live)!, at, minutes(5), "gone")).toBe("stopped");
  });

  it("a final state is never touched, whatever the run", () => {
    const failed = live.replace('state="live"', 'state="failed"');
    expect(endedState(failed, parseMarker(failed)!, at, minutes(1), "over")).toBeUndefined();
  });
});

describe("endedBody", () => {
  it("says the final state in the marker (same name and run) and why, keeping the rest", () => {
    const body = endedBody(live, parseMarker(live)!, "expired", minutes(40));
    expect(parseMarker(body)).toEqual({ name: "app", state: "expired", run: "42.1" });
    expect(body).toContain("its expiry has passed");
    expect(body).toContain("2025-01-31 12:40 UTC");
    expect(body).toContain(live.slice(live.indexOf("\n") + 1));
  });
});

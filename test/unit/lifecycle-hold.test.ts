import { describe, expect, it } from "vitest";
import { type HoldWatch, holdUntilEnd } from "../../src/lifecycle/hold.js";

function watch(extra: Partial<HoldWatch>): HoldWatch {
  return {
    expiresAt: new Date(Date.now() + 5_000),
    signal: new AbortController().signal,
    exited: new Promise(() => {}),
    tunnelLost: new Promise(() => {}),
    pollIntervalMs: 5,
    onPollError: () => {},
    ...extra,
  };
}

/** A link check that answers from a script, one answer per poll, then stays up. */
function scripted(answers: boolean[]) {
  let polls = 0;
  const linkUp = async () => {
    const up = answers[polls++] ?? true;
    return up ? ({ up: true } as const) : ({ up: false, why: `down at poll ${polls}` } as const);
  };
  return { linkUp, polls: () => polls };
}

describe("holdUntilEnd: the live link", () => {
  it("counts a link down on two polls in a row as a lost tunnel, saying why", async () => {
    const link = scripted([true, false, true, false, false]);
    const end = await holdUntilEnd(watch({ linkUp: link.linkUp }));
    expect(end).toEqual({ state: "tunnel-lost", reason: "the public link stopped working: down at poll 5" });
    expect(link.polls()).toBe(5);
  });

  it("lets single blips pass (the SDK reconnecting): the preview runs to its expiry", async () => {
    const link = scripted([false, true, false, true, false, true]);
    const end = await holdUntilEnd(watch({ linkUp: link.linkUp, expiresAt: new Date(Date.now() + 300) }));
    expect(end.state).toBe("expired");
    expect(link.polls()).toBeGreaterThan(6);
  });

  it("fails at once when ngrok answers for the account (quota, credit): no fresh tunnel mends that", async () => {
    let polls = 0;
    const why = "The ngrok account reached its HTTP request limit for the month (ERR_NGROK_727, …)";
    const linkUp = async () => {
      polls++;
      return { up: false, final: true, why } as const;
    };
    const end = await holdUntilEnd(watch({ linkUp, linkGraceMs: 60_000 }));
    expect(end).toEqual({ state: "failed", step: "live", reason: why });
    expect(polls).toBe(1);
  });

  it("waits out the reconnect grace: a link down on many polls is lost only once the grace has passed", async () => {
    const link = scripted(Array(1000).fill(false));
    const started = Date.now();
    const end = await holdUntilEnd(watch({ linkUp: link.linkUp, linkGraceMs: 200 }));
    expect(end.state).toBe("tunnel-lost");
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    expect(link.polls()).toBeGreaterThan(2);
  });
});

import { describe, expect, it } from "vitest";
import { type HoldWatch, holdUntilEnd } from "../../src/lifecycle/hold.js";
import { previewExpiry } from "../../src/lifecycle/poll.js";

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

describe("holdUntilEnd: a hung GitHub API", () => {
  /** A GitHub poll that never answers until its signal ends it, recording that it was aborted. */
  function hung() {
    const aborted: string[] = [];
    let started!: () => void;
    const inFlight = new Promise<void>((resolve) => (started = resolve));
    const poll = (name: string) => (signal: AbortSignal) =>
      new Promise<boolean>((_resolve, reject) => {
        started();
        signal.addEventListener("abort", () => {
          aborted.push(name);
          reject(signal.reason);
        });
      });
    return { aborted, inFlight, superseded: poll("superseded"), prOpen: poll("prOpen") };
  }

  it("never delays the link check: a dead link is noticed while GitHub hangs", async () => {
    const github = hung();
    const link = scripted([false, false]);
    const end = await holdUntilEnd(
      watch({ linkUp: link.linkUp, superseded: github.superseded, prOpen: github.prOpen }),
    );
    expect(end).toEqual({ state: "tunnel-lost", reason: "the public link stopped working: down at poll 2" });
    // The request still in flight when the hold ended was aborted.
    expect(github.aborted).toEqual(["superseded"]);
  });

  it("never delays the expiry or a stop", async () => {
    const github = hung();
    const expired = await holdUntilEnd(
      watch({ superseded: github.superseded, expiresAt: new Date(Date.now() + 50) }),
    );
    expect(expired.state).toBe("expired");
    const stop = new AbortController();
    const again = hung();
    const held = holdUntilEnd(watch({ superseded: again.superseded, signal: stop.signal }));
    await again.inFlight;
    stop.abort("stop requested");
    expect(await held).toEqual({ state: "stopped", reason: "stop requested" });
    expect(github.aborted).toEqual(["superseded"]);
    expect(again.aborted).toEqual(["superseded"]);
  });
});

describe("holdUntilEnd: PR commands", () => {
  const at = new Date();

  it("reads the request after each comment poll: stop ends it stopped, naming who", async () => {
    const requests = [undefined, { kind: "stop" as const, by: "mia", at }];
    let polls = 0;
    const superseded = async () => {
      polls++;
      return false;
    };
    const end = await holdUntilEnd(watch({ superseded, request: () => requests[polls - 1] }));
    expect(end).toEqual({ state: "stopped", reason: "@mia stopped it with `/preview stop`" });
    expect(polls).toBe(2);
  });

  it("hands an extend back to the caller with its length", async () => {
    const end = await holdUntilEnd(
      watch({
        superseded: async () => false,
        request: () => ({ kind: "extend", ms: 90_000, by: "mia", at }),
      }),
    );
    expect(end).toMatchObject({ state: "extend", ms: 90_000, by: "mia" });
  });

  it("lets a takeover win over a request found in the same poll", async () => {
    const end = await holdUntilEnd(
      watch({ superseded: async () => true, request: () => ({ kind: "stop", by: "mia", at }) }),
    );
    expect(end.state).toBe("superseded");
  });
});

describe("expiry and the job's limit", () => {
  it("expires at the duration after live when the job has time left", () => {
    const limit = new Date(10_000_000);
    expect(previewExpiry(1_000_000, 60_000, limit)).toEqual(new Date(1_060_000));
    expect(previewExpiry(1_000_000, 60_000, undefined)).toEqual(new Date(1_060_000));
  });

  it("expires at the job's limit when a long build left less than the duration", () => {
    const limit = new Date(1_030_000);
    expect(previewExpiry(1_000_000, 60_000, limit)).toEqual(limit);
  });

  it("says the job's limit ended it, when it did", async () => {
    const expiresAt = new Date(Date.now() + 50);
    const byJob = await holdUntilEnd(watch({ expiresAt, jobLimit: expiresAt }));
    expect(byJob).toMatchObject({
      state: "expired",
      reason: expect.stringMatching(/^the job holding the preview reached its time limit/),
    });
    const byDuration = await holdUntilEnd(
      watch({ expiresAt: new Date(Date.now() + 50), jobLimit: new Date(Date.now() + 60_000) }),
    );
    expect(byDuration).toMatchObject({
      state: "expired",
      reason: expect.stringMatching(/^the preview reached its duration/),
    });
  });
});

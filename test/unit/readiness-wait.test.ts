import Docker from "dockerode";
import { describe, expect, it } from "vitest";
import { logPatternStrategy } from "../../src/docker/readiness/log-pattern.js";
import type { ReadinessContext, ReadinessStrategy } from "../../src/docker/readiness/types.js";
import { waitUntilReady } from "../../src/docker/readiness/wait.js";
import { PreviewError } from "../../src/errors.js";
import type { ContainerExit } from "../../src/lifecycle/types.js";

/** An AppContainer of our own (the interface is ours; no Docker behind it), with controllable exit and logs. */
function fakeApp(lines: string[] = []) {
  let exit!: (e: ContainerExit) => void;
  const listeners = new Set<(l: string) => void>();
  const app = {
    id: "fake",
    containerPort: 8080,
    hostPort: 1,
    localUrl: "http://127.0.0.1:1",
    exited: new Promise<ContainerExit>((r) => {
      exit = r;
    }),
    tail: async (n: number) => lines.slice(-n),
    onLogLine: (l: (line: string) => void) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    remove: async () => undefined,
  };
  const print = (line: string) => {
    lines.push(line);
    for (const l of listeners) l(line);
  };
  return { app, exit, print, listeners };
}

/** A strategy that is never ready, recording what it was given. */
function never(seen: ReadinessContext[] = []): ReadinessStrategy {
  return {
    name: "never",
    until: (ctx) =>
      new Promise((_r, reject) => {
        seen.push(ctx);
        ctx.note("still not listening");
        ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason));
      }),
  };
}

function readyAfter(ms: number, name: string): ReadinessStrategy {
  return { name, until: () => new Promise((r) => setTimeout(r, ms)) };
}

const docker = new Docker(); // unused: every test passes its own strategies

async function failure(p: Promise<unknown>): Promise<PreviewError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(PreviewError);
    return err as PreviewError;
  }
  throw new Error("expected waitUntilReady to fail");
}

describe("waitUntilReady", () => {
  it("returns the first strategy that says ready, and stops the others", async () => {
    const { app } = fakeApp();
    const seen: ReadinessContext[] = [];
    // "slow" is never ready within the 60 s timeout: only returning on "fast" ends this within the test's own.
    const result = await waitUntilReady(docker, app, {
      timeoutMs: 60_000,
      strategies: [never(seen), readyAfter(30, "fast"), never(seen)],
    });
    expect(result.strategy).toBe("fast");
    expect(result.ms).toBeGreaterThanOrEqual(25);
    expect(seen).toHaveLength(2);
    expect(seen.every((ctx) => ctx.signal.aborted)).toBe(true);
  });

  it("fails at once when the container exits, with the exit code and the last 50 lines", async () => {
    const lines = Array.from({ length: 80 }, (_, i) => `line ${i}`);
    const { app, exit } = fakeApp(lines);
    const waiting = waitUntilReady(docker, app, { timeoutMs: 60_000, strategies: [never()] });
    setTimeout(() => exit({ exitCode: 3 }), 100);
    // The timeout is 60 s: only the exit ends this within the test's own 10 s.
    const err = await failure(waiting);
    expect(err.step).toBe("ready");
    expect(err.code).toBe("APP_EXITED");
    expect(err.exitCode).toBe(3);
    expect(err.message).toMatch(/exited with code 3 before it was ready/);
    expect(err.logLines).toHaveLength(50);
    expect(err.logLines?.at(-1)).toBe("line 79");
  });

  it("says so when the app was killed for memory", async () => {
    const { app, exit } = fakeApp();
    exit({ exitCode: 137, oomKilled: true });
    const err = await failure(waitUntilReady(docker, app, { timeoutMs: 60_000, strategies: [never()] }));
    expect(err.message).toMatch(/out of memory.*`memory`/);
  });

  it("times out on time, with logs and what the strategies last saw", async () => {
    const { app } = fakeApp(["loading model..."]);
    const t0 = performance.now();
    const err = await failure(waitUntilReady(docker, app, { timeoutMs: 400, strategies: [never()] }));
    const took = performance.now() - t0;
    expect(took).toBeGreaterThanOrEqual(395);
    expect(err.code).toBe("READY_TIMEOUT");
    expect(err.logLines).toEqual(["loading model..."]);
    expect(err.message).toMatch(/not ready after 400 ms: still not listening/);
    expect(err.message).toMatch(/`ready-timeout`/);
  });

  it("stops promptly when the signal aborts", async () => {
    const { app } = fakeApp();
    const controller = new AbortController();
    const waiting = waitUntilReady(docker, app, {
      timeoutMs: 60_000,
      signal: controller.signal,
      strategies: [never()],
    });
    setTimeout(() => controller.abort(new Error("SIGINT")), 50);
    // The timeout is 60 s: only the abort ends this within the test's own 10 s.
    const err = await failure(waiting);
    expect(err.code).toBe("CANCELLED");
  });

  it("a strategy that crashes outright is reported, not waited out", async () => {
    const { app } = fakeApp();
    const broken: ReadinessStrategy = {
      name: "broken",
      until: async () => Promise.reject(new Error("bad probe")),
    };
    const err = await failure(waitUntilReady(docker, app, { timeoutMs: 60_000, strategies: [broken] }));
    expect(err.code).toBe("READY_CHECK_FAILED");
  });

  it("leaves no log listener behind", async () => {
    const { app, listeners, print } = fakeApp();
    const ready = waitUntilReady(docker, app, {
      timeoutMs: 5000,
      strategies: [logPatternStrategy(app, /Running on/)],
    });
    setTimeout(() => print("* Running on http://0.0.0.0:5000"), 20);
    expect((await ready).strategy).toBe("log /Running on/");
    expect(listeners.size).toBe(0);
  });
});

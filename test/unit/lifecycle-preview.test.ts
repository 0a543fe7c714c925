import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/parse.js";
import type { PreviewConfig } from "../../src/config/types.js";
import { PreviewError } from "../../src/errors.js";
import { type PreviewDeps, type PreviewResult, runPreview } from "../../src/lifecycle/preview.js";
import type {
  ContainerExit,
  PreparedImage,
  PreviewEvent,
  PreviewEventName,
  RunningApp,
  Runtime,
} from "../../src/lifecycle/types.js";
import type { Logger } from "../../src/log.js";
import type { LinkState, Tunnel } from "../../src/tunnel/types.js";
import { lostNotifier } from "../../src/tunnel/watchdog.js";

/*
 * The lifecycle against an in-memory Runtime and Tunnel (our own interfaces): every branch, decided by the
 * test, waited on through the events the lifecycle emits. The app's port is a loopback server that answers,
 * so the hold's "does the app still answer" poll sees a healthy app.
 */

let server: Server;
let appPort: number;
beforeAll(async () => {
  server = createServer((_req, res) => res.end("ok"));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  appPort = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

type Op = "connect" | "prepare" | "start" | "ready" | "tunnel";

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

type Deferred = { promise: Promise<void>; resolve: () => void };

/** Rejects with the signal's reason once it aborts (never without a signal). */
function abortedBy(signal: AbortSignal | undefined): Promise<never> {
  return new Promise((_, reject) => {
    if (signal?.aborted) reject(signal.reason);
    signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
}

/**
 * Every operation of the runtime and the tunnel passes through `step`: it is recorded, `entered(op)` resolves,
 * a gated op waits until `release(op)` (or its signal aborts), and a failure set for it is thrown.
 */
class World {
  readonly calls: Op[] = [];
  readonly gated = new Set<Op>();
  readonly failures = new Map<Op, unknown>();
  readonly tunnels: FakeTunnel[] = [];
  readonly apps: FakeApp[] = [];
  readonly events: PreviewEvent[] = [];
  readonly warnings: string[] = [];
  private readonly enteredOps = new Map<Op, Deferred>();
  private readonly releases = new Map<Op, Deferred>();
  private readonly watchers: Array<{
    match: (e: PreviewEvent) => boolean;
    resolve: (e: PreviewEvent) => void;
  }> = [];
  readonly stop = new AbortController();
  /** A reporter answer per event (e.g. "superseded" once a newer run owns the comment). */
  readonly answers = new Map<PreviewEventName, "superseded">();

  private once(map: Map<Op, Deferred>, op: Op): Deferred {
    if (!map.has(op)) map.set(op, deferred<void>());
    return map.get(op)!;
  }
  entered(op: Op): Promise<void> {
    return this.once(this.enteredOps, op).promise;
  }
  release(op: Op): void {
    this.once(this.releases, op).resolve();
  }
  async step(op: Op, signal?: AbortSignal): Promise<void> {
    this.calls.push(op);
    this.once(this.enteredOps, op).resolve();
    if (this.gated.has(op)) await Promise.race([this.once(this.releases, op).promise, abortedBy(signal)]);
    if (this.failures.has(op)) throw this.failures.get(op);
  }

  /** The first event (already emitted or still to come) that matches. */
  event(name: PreviewEventName, match: (e: PreviewEvent) => boolean = () => true): Promise<PreviewEvent> {
    const test = (e: PreviewEvent) => e.event === name && match(e);
    const seen = this.events.find(test);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.watchers.push({ match: test, resolve }));
  }
  names(): PreviewEventName[] {
    return this.events.map((e) => e.event);
  }

  readonly runtime: Runtime = {
    connect: (_step) => this.step("connect"),
    prepareImage: async (source, signal): Promise<PreparedImage> => {
      await this.step("prepare", signal);
      return { imageId: "sha256:fake", ref: source.kind === "image" ? source.image : "built", built: false };
    },
    start: async () => {
      await this.step("start");
      const app = new FakeApp(this, `app-${this.apps.length + 1}`);
      this.apps.push(app);
      return app;
    },
    release: async () => {
      this.runtimeReleased++;
    },
  };
  /** How often the lifecycle let the runtime drop what it fetched ahead (cache-dirs): once prepare ran. */
  runtimeReleased = 0;

  readonly openTunnel = async (_port: number, signal: AbortSignal): Promise<Tunnel> => {
    await this.step("tunnel", signal);
    const tunnel = new FakeTunnel(`https://t${this.tunnels.length + 1}.example`);
    this.tunnels.push(tunnel);
    return tunnel;
  };

  readonly log: Logger = {
    info: () => {},
    debug: () => {},
    warning: (m) => this.warnings.push(m),
    group: (_t, fn) => fn(),
  };

  deps(extra: Partial<PreviewDeps> = {}): PreviewDeps {
    return {
      runtime: this.runtime,
      openTunnel: this.openTunnel,
      log: this.log,
      reporters: [
        {
          name: "record",
          report: async (e) => {
            this.events.push(e);
            for (const w of this.watchers.filter((w) => w.match(e))) w.resolve(e);
            return this.answers.get(e.event);
          },
        },
      ],
      signal: this.stop.signal,
      metadata: { name: "app" },
      pollIntervalMs: 20,
      cleanupPatienceMs: 0,
      ...extra,
    };
  }
}

class FakeApp implements RunningApp {
  readonly hostPort = appPort;
  readonly localUrl = `http://127.0.0.1:${appPort}`;
  private readonly exit = deferred<ContainerExit>();
  readonly exited = this.exit.promise;
  removed = 0;
  kept = 0;
  constructor(
    private readonly world: World,
    readonly id: string,
  ) {}
  waitUntilReady(opts: { signal: AbortSignal }): Promise<void> {
    return this.world.step("ready", opts.signal);
  }
  async keepStartup(): Promise<void> {
    this.kept++;
  }
  async tail(n: number): Promise<string[]> {
    return ["loading model", "Traceback: out of luck"].slice(-n);
  }
  async remove(): Promise<void> {
    this.removed++;
  }
  crash(exit: ContainerExit): void {
    this.exit.resolve(exit);
  }
}

class FakeTunnel implements Tunnel {
  closed = 0;
  link: LinkState = { up: true };
  /** As the ngrok tunnel does: fires once, and a listener added later still hears it. */
  private readonly lost = lostNotifier();
  constructor(readonly url: string) {}
  onLost(listener: (reason: string) => void): void {
    this.lost.listen(listener);
  }
  lose(reason: string): void {
    this.lost.fire(reason);
  }
  async verify(): Promise<void> {}
  async linkUp(): Promise<LinkState> {
    return this.link;
  }
  async close(): Promise<void> {
    this.closed++;
  }
}

function config(inputs: Record<string, string> = {}, overrides: Partial<PreviewConfig> = {}): PreviewConfig {
  return {
    ...parseConfig({ image: "fake:1", tunnel: "none", ...inputs }, { workspace: "/tmp" }),
    ...overrides,
  };
}

/** A preview that holds until the test ends it (a duration far beyond any test). */
const long = () => config({ duration: "2h" });

function start(
  world: World,
  cfg: PreviewConfig = long(),
  extra: Partial<PreviewDeps> = {},
): Promise<PreviewResult> {
  return runPreview(cfg, world.deps(extra));
}

/** What every end must have cleaned up: the app removed, every tunnel closed, the runtime released. */
function expectCleanedUp(world: World): void {
  if (world.calls.includes("prepare")) expect(world.runtimeReleased).toBe(1);
  for (const app of world.apps) expect(app.removed, app.id).toBeGreaterThan(0);
  for (const tunnel of world.tunnels) expect(tunnel.closed, tunnel.url).toBeGreaterThan(0);
}

describe("the lifecycle's phases, in order", () => {
  it("connect → prepare → start → ready → tunnel → live, then expiry ends it and everything is cleaned up", async () => {
    const world = new World();
    const result = await start(world, config({ duration: "1ms" }));
    expect(world.calls).toEqual(["connect", "prepare", "start", "ready", "tunnel"]);
    expect(world.names()).toEqual(["building", "starting", "ready", "live", "expired"]);
    expect(result).toMatchObject({ state: "expired", details: { url: "https://t1.example" } });
    expect(result.details.reason).toMatch(/reached its duration/);
    expect(world.apps[0]!.kept).toBe(1);
    expectCleanedUp(world);
  });

  it("an expiry at the job's limit says the job's limit ended it", async () => {
    const world = new World();
    const result = await start(world, long(), { holdLimit: new Date(Date.now() + 1) });
    expect(result.state).toBe("expired");
    expect(result.details.reason).toMatch(/job holding the preview reached its time limit/);
    expectCleanedUp(world);
  });

  it("share: no runtime, the app on this machine answers, then live", async () => {
    const world = new World();
    const cfg = { ...long(), source: { kind: "share" as const, port: appPort } };
    const ending = start(world, cfg, { runtime: undefined });
    const live = await world.event("live");
    expect(live.details).toMatchObject({
      url: "https://t1.example",
      localUrl: `http://127.0.0.1:${appPort}`,
    });
    world.stop.abort("done");
    expect((await ending).state).toBe("stopped");
    expect(world.names()).toEqual(["ready", "live", "stopped"]);
    expectCleanedUp(world);
  });
});

describe("a lost tunnel", () => {
  it("is reopened: a fresh session, the live comment shows its URL, the old one closed", async () => {
    const world = new World();
    const ending = start(world);
    await world.event("live");
    world.tunnels[0]!.lose("session dropped");
    const relive = await world.event("live", (e) => e.details.url === "https://t2.example");
    expect(relive.details.expiresAt).toBeInstanceOf(Date);
    expect(world.tunnels[0]!.closed).toBeGreaterThan(0);
    expect(world.warnings.join("\n")).toMatch(/tunnel was lost \(session dropped\); opening a fresh session/);
    world.stop.abort("the test is over");
    const result = await ending;
    expect(result).toMatchObject({ state: "stopped", details: { url: "https://t2.example" } });
    expectCleanedUp(world);
  });

  it("lost again soon after gives up: failed at live, saying so", async () => {
    const world = new World();
    const ending = start(world);
    await world.event("live");
    world.tunnels[0]!.lose("first drop");
    await world.event("live", (e) => e.details.url === "https://t2.example");
    world.tunnels[1]!.lose("second drop");
    const result = await ending;
    expect(result.state).toBe("failed");
    expect(result.details).toMatchObject({ step: "live", error: "the tunnel was lost again: second drop" });
    expectCleanedUp(world);
  });

  it("a link ngrok refuses for the account fails at once (no fresh tunnel mends it)", async () => {
    const world = new World();
    const ending = start(world);
    await world.event("live");
    world.tunnels[0]!.link = { up: false, final: true, why: "the account is over its quota" };
    const result = await ending;
    expect(result.details).toMatchObject({ step: "live", error: "the account is over its quota" });
    expect(world.tunnels).toHaveLength(1);
    expectCleanedUp(world);
  });
});

describe("superseded", () => {
  it("mid-step (a reporter finds a newer run while starting): the app is never started", async () => {
    const world = new World();
    world.answers.set("starting", "superseded");
    const result = await start(world);
    expect(result.state).toBe("superseded");
    expect(world.calls).toEqual(["connect", "prepare"]);
    expect(world.names()).toEqual(["building", "starting", "superseded"]);
  });

  it("while live (the poll finds the comment taken over)", async () => {
    const world = new World();
    let newer = false;
    const ending = start(world, long(), { superseded: async () => newer });
    await world.event("live");
    newer = true;
    const result = await ending;
    expect(result).toMatchObject({
      state: "superseded",
      details: { reason: "a newer run took over this preview" },
    });
    expectCleanedUp(world);
  });
});

describe("a stop request", () => {
  const reason = "stopped by SIGINT";

  for (const op of ["prepare", "start", "ready", "tunnel"] as const) {
    it(`while in ${op}: stopped with the reason, and what exists is cleaned up`, async () => {
      const world = new World();
      world.gated.add(op);
      const ending = start(world);
      await world.entered(op);
      world.stop.abort(reason);
      world.release(op);
      const result = await ending;
      expect(result).toMatchObject({ state: "stopped", details: { reason } });
      expect(world.names().at(-1)).toBe("stopped");
      expect(world.names()).not.toContain("live");
      expectCleanedUp(world);
      if (op === "prepare") expect(world.apps).toHaveLength(0);
      else expect(world.apps[0]!.removed).toBe(1);
    });
  }

  it("while live (held): stopped with the reason, everything cleaned up", async () => {
    const world = new World();
    const ending = start(world);
    await world.event("live");
    world.stop.abort(reason);
    const result = await ending;
    expect(result).toMatchObject({ state: "stopped", details: { reason, url: "https://t1.example" } });
    expectCleanedUp(world);
  });
});

describe("a failure says which step failed and why", () => {
  it("the runtime cannot be reached: failed at pull for an image (build for a Dockerfile)", async () => {
    const world = new World();
    world.failures.set("connect", new PreviewError("pull", "The engine does not answer"));
    const result = await start(world);
    expect(result.details).toMatchObject({ step: "pull", error: "The engine does not answer" });
    expect(world.calls).toEqual(["connect"]);
  });

  it("the image build fails: failed at build with the build's message, nothing started", async () => {
    const world = new World();
    world.failures.set("prepare", new PreviewError("build", "RUN pip install failed: exit code 1"));
    const result = await start(world);
    expect(result.state).toBe("failed");
    expect(result.details).toMatchObject({ step: "build", error: "RUN pip install failed: exit code 1" });
    expect(world.apps).toHaveLength(0);
    expect(world.runtimeReleased).toBe(1);
    expect(world.names()).toEqual(["building", "failed"]);
  });

  it("the app exits during the ready wait: its exit code and last log lines", async () => {
    const world = new World();
    world.failures.set("ready", new PreviewError("ready", "The app exited with code 3", { exitCode: 3 }));
    const result = await start(world);
    expect(result.details).toMatchObject({
      step: "ready",
      error: "The app exited with code 3",
      exitCode: 3,
      logLines: ["loading model", "Traceback: out of luck"],
    });
    expectCleanedUp(world);
  });

  it("the app exits while live: failed at live with the exit code (and out of memory said)", async () => {
    const world = new World();
    const ending = start(world);
    await world.event("live");
    world.apps[0]!.crash({ exitCode: 137, oomKilled: true });
    const result = await ending;
    expect(result.details).toMatchObject({ step: "live", exitCode: 137 });
    expect(result.details.error).toMatch(/exited with code 137 \(killed: out of memory/);
    expect(result.details.logLines).toEqual(["loading model", "Traceback: out of luck"]);
    expectCleanedUp(world);
  });

  it("the tunnel fails to open: failed at tunnel, the app removed", async () => {
    const world = new World();
    world.failures.set("tunnel", new Error("authentication failed"));
    const result = await start(world);
    expect(result.details).toMatchObject({
      step: "tunnel",
      error: "Could not open the tunnel: authentication failed",
    });
    expect(world.apps[0]!.removed).toBe(1);
  });

  it("a reporter that throws does not end the preview: warned, and the preview goes on", async () => {
    const world = new World();
    const deps = world.deps();
    const broken = { name: "comment", report: async () => Promise.reject(new Error("GitHub is down")) };
    const result = await runPreview(config({ duration: "1ms" }), {
      ...deps,
      reporters: [broken, ...deps.reporters],
    });
    expect(result.state).toBe("expired");
    expect(world.warnings.join("\n")).toMatch(/Could not update the comment: GitHub is down/);
  });
});

import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { networkInterfaces } from "node:os";
import type Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { removeCacheVolumes } from "../../src/docker/volumes.js";
import { ActionsCacheService } from "../support/actions-cache/index.js";
import { busyboxContext } from "../support/docker.js";
import {
  fetchText,
  PR,
  type PreviewWorld,
  previewHooks,
  pullCommentEvent,
  waitFor,
} from "../support/preview-fixture.js";
import { type RunningStep, runnerNode } from "../support/runner.js";

// An app that downloads a "model" at start-up, run through the bundled action with the Actions cache
// stand-in: the second preview, on an engine without the first one's image, container or volume, starts
// from the cache without asking the model server.
const REPO = "octo-org/ml-app";
let world: PreviewWorld;
let service: ActionsCacheService;
let models: ModelServer;
const names: string[] = [];
const { docker, newWorld } = previewHooks({
  resetFirst: async () => {
    service.reset();
    await models.reset();
  },
  cleanLast: async () => {
    for (const name of names.splice(0)) await removeApp(name);
  },
});

beforeAll(async () => {
  service = await ActionsCacheService.start();
  models = await ModelServer.start(docker);
});
afterAll(async () => {
  await service?.close();
  await models?.close();
});

/**
 * The "model hub": a busybox httpd in a container of its own, its port published on the host's address on
 * Docker's default bridge (not a public interface): the app, on a network of its own that reaches no other
 * container, gets to it as to any server outside its network, through the host. It serves a
 * random "model" and logs each request, which is how they are counted; `/cgi-bin/hold` never answers (an
 * app stuck downloading at start-up).
 */
class ModelServer {
  private counted = 0;
  private constructor(
    readonly bytes: string,
    private readonly container: Docker.Container,
    private readonly address: string,
    private readonly image: string,
  ) {}

  static async start(d: Docker): Promise<ModelServer> {
    const tag = `ml-preview-e2e-models:${process.pid}`;
    const bytes = randomBytes(3 * 1024 * 1024 + 17).toString("base64");
    const dir = busyboxContext(
      [
        "FROM scratch",
        "COPY busybox /bin/busybox",
        'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
        "COPY model.bin /www/model.bin",
        "RUN mkdir -p /www/cgi-bin && printf '#!/bin/sh\\nsleep 600\\n' > /www/cgi-bin/hold && chmod 755 /www/cgi-bin/hold",
        'CMD ["/bin/busybox", "httpd", "-f", "-vv", "-p", "8080", "-h", "/www"]',
      ].join("\n"),
      { "model.bin": bytes },
    );
    try {
      execFileSync("docker", ["build", "-q", "-t", tag, dir], { stdio: ["ignore", "pipe", "pipe"] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // The host's address on the default bridge (docker0): inspect may leave it out for that bridge.
    const bridge = await d.getNetwork("bridge").inspect();
    const ifname = bridge.Options?.["com.docker.network.bridge.name"] ?? "docker0";
    // A bridge with no container attached is down (no carrier), and Node lists only interfaces that are up:
    // then the gateway Docker gives the bridge, the subnet's first address, which is on docker0 all the same.
    const gateway =
      bridge.IPAM?.Config?.[0]?.Gateway ??
      networkInterfaces()[ifname]?.find((a) => a.family === "IPv4")?.address ??
      firstHost(bridge.IPAM?.Config?.[0]?.Subnet);
    if (!gateway) throw new Error(`no host address on ${ifname} to publish the model hub on`);
    const container = await d.createContainer({
      Image: tag,
      Labels: { "ml-preview.e2e": "model-hub" },
      ExposedPorts: { "8080/tcp": {} },
      HostConfig: { PortBindings: { "8080/tcp": [{ HostIp: gateway, HostPort: "" }] } },
    });
    await container.start();
    const info = await container.inspect();
    const port = info.NetworkSettings.Ports["8080/tcp"]?.[0]?.HostPort;
    if (!port) throw new Error("the model hub's port was not published");
    return new ModelServer(bytes, container, `${gateway}:${port}`, tag);
  }

  get url(): string {
    return `http://${this.address}/model.bin`;
  }

  get holdUrl(): string {
    return `http://${this.address}/cgi-bin/hold`;
  }

  /** Requests for `path` since the last reset, from the server's own log. */
  async requests(path = "/model.bin"): Promise<number> {
    const log = (await this.container.logs({ stdout: true, stderr: true })).toString("latin1");
    return log.split(`url:${path}`).length - 1 - (path === "/model.bin" ? this.counted : 0);
  }

  md5(): string {
    return createHash("md5").update(this.bytes).digest("hex");
  }

  async reset(): Promise<void> {
    this.counted += await this.requests();
  }

  async close(): Promise<void> {
    await this.container.remove({ force: true }).catch(() => undefined);
    execFileSync("docker", ["rmi", "-f", this.image], { stdio: "ignore" });
  }
}

/** The first host address of an IPv4 subnet (`172.17.0.0/16` → `172.17.0.1`), or undefined. */
function firstHost(subnet: string | undefined): string | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(subnet ?? "");
  if (!m) return undefined;
  const bits = Number(m[5]);
  const ip = m.slice(1, 5).reduce((n, o) => n * 256 + Number(o), 0);
  const network = bits === 0 ? 0 : Math.floor(ip / 2 ** (32 - bits)) * 2 ** (32 - bits);
  const host = network + 1;
  return [24, 16, 8, 0].map((shift) => Math.floor(host / 2 ** shift) % 256).join(".");
}

/** Downloads the model into /models unless it is there, publishes its md5, then serves. */
const appDockerfile = [
  "FROM scratch",
  "COPY busybox /bin/busybox",
  'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
  "RUN mkdir -p /www /models && echo '<h1>ml-preview test app</h1>' > /www/index.html",
  "ENV MODEL_URL=unset",
  "EXPOSE 8080",
  `CMD ["/bin/sh", "-c", "[ -f /models/model.bin ] || { wget -q -O /models/model.part \\"$MODEL_URL\\" && mv /models/model.part /models/model.bin; } && md5sum /models/model.bin | cut -d' ' -f1 > /www/model.txt && exec httpd -f -p 8080 -h /www"]`,
].join("\n");

/** Where a run is, as the runner and the cache service see it; default a pull_request run of PR #12. */
interface RunOn {
  readonly eventName?: string;
  readonly event?: unknown;
  /** The run's ref: its cache scope (a PR's merge ref reads main's entries too). */
  readonly ref?: string;
}

function cacheJob(
  name: string,
  extra: Record<string, string> = {},
  env: Record<string, string> = {},
  node?: string,
  on: RunOn = {},
) {
  const ref = on.ref ?? "refs/pull/12/merge";
  const token = ref.startsWith("refs/pull/")
    ? service.tokenFor(ref, ["refs/heads/main"])
    : service.tokenFor(ref);
  const refEnv = { GITHUB_REF: ref, GITHUB_REF_NAME: ref.replace(/^refs\/(heads|pull)\//, "") };
  const { job } = world.job(
    { name, "cache-dirs": "/models", env: `MODEL_URL=${models.url}`, "health-path": "/model.txt", ...extra },
    {
      dockerfile: appDockerfile,
      env: { ...service.env(token), ...refEnv, ...env },
      node,
      eventName: on.eventName,
      event: on.event,
    },
  );
  return job;
}

/** Every image, container and volume of the app goes: the next preview finds an engine without them. */
async function removeApp(name: string): Promise<void> {
  const filters = { label: [`ml-preview.repo=${REPO}`, `ml-preview.name=${name}`] };
  for (const c of await docker.listContainers({ all: true, filters }))
    await docker.getContainer(c.Id).remove({ force: true, v: true });
  for (const i of await docker.listImages({ filters }))
    await docker
      .getImage(i.Id)
      .remove({ force: true })
      .catch(() => undefined);
  await removeCacheVolumes(docker, { repo: REPO, name });
}

/** The md5 the live app publishes of the model it loaded (the step's log, when it ends before live). */
async function liveModelMd5(step: RunningStep): Promise<string> {
  const ended = step.done.then((r) => {
    throw new Error(`the step ended before live:\n${r.stdout}\n${r.stderr}`);
  });
  await Promise.race([
    ended,
    waitFor("the comment to say live", () => world.comments()[0]?.body.includes('state="live"')),
  ]);
  ended.catch(() => undefined);
  return (await fetchText(`${world.liveUrl()!}/model.txt`)).body.trim();
}

describe("cache-dirs through the Actions cache", () => {
  it("the second preview, on an engine without the first's image, container and volume, starts without downloading (on node24)", async () => {
    world = await newWorld();
    const name = `cache-${randomBytes(3).toString("hex")}`;
    names.push(name);

    const first = cacheJob(name, { duration: "4s" });
    const firstRun = first.startMain();
    expect(await liveModelMd5(firstRun)).toBe(models.md5());
    const firstResult = await firstRun.done;
    expect(firstResult.code, firstResult.stdout).toBe(0);
    expect(await models.requests()).toBe(1);
    const saved = service.entries.filter((e) => e.finalized);
    expect(saved).toHaveLength(1);
    expect(saved[0]!.key).toMatch(new RegExp(`^ml-preview-pr12/${name}-linux-`));
    expect(firstResult.stdout).toContain(`cache-dirs: saved`);
    expect(firstResult.stdout).not.toContain("::warning::");
    expect((await first.post()).code).toBe(0);

    await removeApp(name);
    expect(await docker.listVolumes({ filters: { label: [`ml-preview.name=${name}`] } })).toMatchObject({
      Volumes: [],
    });
    await world.close();
    world = await newWorld();

    // On the runner's own node (node24), which unpacks zstd itself; the first ran on this machine's node,
    // whose restores ask the zstd program (as the next test's second preview does).
    const second = cacheJob(name, { duration: "4s" }, {}, runnerNode());
    const secondRun = second.startMain();
    expect(await liveModelMd5(secondRun)).toBe(models.md5());
    const secondResult = await secondRun.done;
    expect(secondResult.code, secondResult.stdout).toBe(0);
    expect(await models.requests()).toBe(1); // none from the second preview
    expect(secondResult.stdout).toContain(`restored 1 volume(s) from cache entry ${saved[0]!.key}`);
    // The key exists: nothing new is uploaded.
    expect(service.entries.filter((e) => e.finalized)).toHaveLength(1);
    expect(secondResult.stdout).not.toContain("::warning::");
    expect((await second.post()).code).toBe(0);
  });

  it("restored from a restore key: the app starts warm, and the unchanged volume is not saved again under the new key", async () => {
    world = await newWorld();
    const name = `cache-${randomBytes(3).toString("hex")}`;
    names.push(name);
    const first = cacheJob(name, { duration: "3s", "cache-key": `${name}-deps-a` });
    const firstRun = first.startMain();
    expect(await liveModelMd5(firstRun)).toBe(models.md5());
    expect((await firstRun.done).code).toBe(0);
    expect((await first.post()).code).toBe(0);
    await removeApp(name);
    await world.close();
    world = await newWorld();

    // The dependencies changed (a new key); the model did not.
    const second = cacheJob(name, {
      duration: "3s",
      "cache-key": `${name}-deps-b`,
      "cache-restore-keys": `${name}-deps-`,
    });
    const secondRun = second.startMain();
    expect(await liveModelMd5(secondRun)).toBe(models.md5());
    const result = await secondRun.done;
    expect(result.code, result.stdout).toBe(0);
    expect(await models.requests()).toBe(1);
    expect(result.stdout).toContain(`restored 1 volume(s) from cache entry ${name}-deps-a`);
    expect(result.stdout).toContain("cache-dirs: unchanged since the restored entry; nothing to save.");
    expect(service.entries.filter((e) => e.finalized).map((e) => e.key)).toEqual([`${name}-deps-a`]);
    expect((await second.post()).code).toBe(0);
  });

  it("a preview cancelled during start-up leaves no cache entry", async () => {
    world = await newWorld();
    const name = `cache-${randomBytes(3).toString("hex")}`;
    names.push(name);
    const job = cacheJob(name, { env: `MODEL_URL=${models.holdUrl}` });
    const main = job.startMain();
    await waitFor("the app to ask for the model", async () => (await models.requests("/cgi-bin/hold")) > 0);
    const result = await job.cancel(main);
    expect(result.outputs.status, result.stdout).toBe("stopped");
    // The cache was asked (restore) before the app started; nothing was reserved or uploaded after.
    expect(service.calls).toContain("GetCacheEntryDownloadURL");
    expect(service.entries).toEqual([]);
    expect(service.calls).not.toContain("CreateCacheEntry");
    expect((await job.post()).code).toBe(0);
  });

  it("volumes over the cache budget are reported, not uploaded", async () => {
    world = await newWorld();
    const name = `cache-${randomBytes(3).toString("hex")}`;
    names.push(name);
    // A 1 MiB budget; the model is 3 MiB.
    const job = cacheJob(name, { duration: "3s" }, { ML_PREVIEW_CACHE_BUDGET_GB: String(1 / 1024) });
    const main = job.startMain();
    expect(await liveModelMd5(main)).toBe(models.md5());
    const result = await main.done;
    expect(result.code, result.stdout).toBe(0);
    const warnings = result.stdout.split("\n").filter((l) => l.startsWith("::warning"));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain("more than 1 MB, the repository's cache budget; not saved");
    expect(service.calls).not.toContain("CreateCacheEntry");
    expect(service.entries).toEqual([]);
    expect((await job.post()).code).toBe(0);
  });

  it.each([
    ["down", () => service.down()],
    ["answering 500", () => service.failWith(500)],
  ])("with the cache service %s the preview runs, with a warning and no failure", async (_what, outage) => {
    world = await newWorld();
    const name = `cache-${randomBytes(3).toString("hex")}`;
    names.push(name);
    outage();
    const job = cacheJob(name, { duration: "3s" });
    const main = job.startMain();
    expect(await liveModelMd5(main)).toBe(models.md5());
    const result = await main.done;
    expect(result.code, result.stdout).toBe(0);
    expect(result.outputs.status).toBe("expired");
    // One warning: the client's own, at restore; no save is tried after it.
    const warnings = result.stdout.split("\n").filter((l) => l.startsWith("::warning"));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^::warning::Failed to restore/);
    expect(service.entries).toEqual([]);
    expect((await job.post()).code).toBe(0);
  });
});

describe("cache-dirs of runs that build a pull request's code on a branch", () => {
  it("a workflow_dispatch run with pr-number and a /preview command's run restore but never save; the default branch's next run finds nothing of theirs", async () => {
    world = await newWorld();
    world.github.setRole("maintainer-mia", "maintain");
    const name = `cache-${randomBytes(3).toString("hex")}`;
    names.push(name);
    const onMain = { ref: "refs/heads/main" };

    // The README's fork recipe: dispatched on main with the PR's number (here the workspace is the PR's code).
    const dispatch = cacheJob(name, { duration: "3s", "pr-number": String(PR) }, {}, undefined, {
      ...onMain,
      eventName: "workflow_dispatch",
      event: { inputs: { "pr-number": String(PR) }, ref: "refs/heads/main" },
    });
    const dispatched = dispatch.startMain();
    expect(await liveModelMd5(dispatched)).toBe(models.md5());
    const dispatchResult = await dispatched.done;
    expect(dispatchResult.code, dispatchResult.stdout).toBe(0);
    // Restored (asked), never reserved or uploaded.
    expect(service.calls).toEqual(["GetCacheEntryDownloadURL"]);
    expect(service.entries).toEqual([]);
    const said = dispatchResult.stdout.split("\n").filter((l) => l.includes("Caches are read-only"));
    expect(said).toEqual([
      `Caches are read-only in this run: this workflow_dispatch run builds pull request #${PR}'s code on the branch it was started on (usually the default branch), whose cache that branch's runs and its pull requests read. So cache-dirs are restored, never saved.`,
    ]);
    expect((await dispatch.post()).code).toBe(0);
    await removeApp(name);

    // A reviewer's `/preview`: an issue_comment run, on the default branch.
    const commentId = world.github.postComment(PR, "/preview", "maintainer-mia");
    const command = cacheJob(name, { duration: "3s" }, {}, undefined, {
      ...onMain,
      eventName: "issue_comment",
      event: pullCommentEvent({ id: commentId, body: "/preview", login: "maintainer-mia" }),
    });
    const commanded = command.startMain();
    expect(await liveModelMd5(commanded)).toBe(models.md5());
    const commandResult = await commanded.done;
    expect(commandResult.code, commandResult.stdout).toBe(0);
    expect(commandResult.stdout).toContain(
      `Caches are read-only in this run: this issue_comment run (a /preview command) builds pull request #${PR}'s code on the default branch`,
    );
    expect(service.calls).not.toContain("CreateCacheEntry");
    expect(service.entries).toEqual([]);
    expect((await command.post()).code).toBe(0);
    await removeApp(name);
    expect(await models.requests()).toBe(2);

    // The default branch's own run (push, no PR): nothing to restore, so it downloads the model itself and
    // is the one that saves.
    const main = cacheJob(name, { duration: "3s" }, {}, undefined, {
      ...onMain,
      eventName: "push",
      event: {},
    });
    const mainResult = await main.main();
    expect(mainResult.code, mainResult.stdout).toBe(0);
    expect(mainResult.stdout).toMatch(
      new RegExp(`cache-dirs: no cache entry for ml-preview-${name}-linux-\\S+ yet`),
    );
    expect(mainResult.stdout).not.toContain("Caches are read-only");
    expect(await models.requests()).toBe(3);
    expect(service.entries.filter((e) => e.finalized).map((e) => e.scope)).toEqual(["refs/heads/main"]);
    expect((await main.post()).code).toBe(0);
  });
});

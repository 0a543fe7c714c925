import { createHash, randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type Docker from "dockerode";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { removeCacheVolumes } from "../../src/docker/volumes.js";
import { ActionsCacheService } from "../support/actions-cache/index.js";
import { requireDocker } from "../support/docker.js";
import { fetchText, leftContainers, PreviewWorld, waitFor } from "../support/preview-fixture.js";
import type { RunningStep } from "../support/runner.js";

// An app that downloads a "model" at start-up, run through the bundled action with the Actions cache
// stand-in: the second preview, on an engine without the first one's image, container or volume, starts
// from the cache without asking the model server.
const REPO = "octo-org/ml-app";
let docker: Docker;
let world: PreviewWorld;
let service: ActionsCacheService;
let models: ModelServer;
const labels: string[] = [];
const names: string[] = [];

beforeAll(async () => {
  docker = await requireDocker();
  service = await ActionsCacheService.start();
  models = await ModelServer.start(await bridgeGateway(docker));
});
afterEach(async () => {
  // The stand-ins go back to healthy first: a failed assertion below must not hang the next test.
  service.reset();
  models.reset();
  await world?.close();
  const left: string[] = [];
  for (const label of labels.splice(0)) left.push(...(await leftContainers(docker, label)));
  for (const name of names.splice(0)) await removeApp(name);
  expect(left, "containers left behind").toEqual([]);
});
afterAll(async () => {
  await service?.close();
  await models?.close();
});

/**
 * The model server is reached from the app's container through the default bridge's gateway address (a
 * container's 127.0.0.1 is its own): an address of this machine only, like loopback.
 */
async function bridgeGateway(d: Docker): Promise<string> {
  const bridge = await d.getNetwork("bridge").inspect();
  const config = (bridge.IPAM?.Config ?? [])[0] as { Gateway?: string; Subnet?: string } | undefined;
  return config?.Gateway ?? config!.Subnet!.replace(/\.0\/\d+$/, ".1");
}

/** Serves a random "model" and counts requests; `hold` keeps answers pending (an app stuck in start-up). */
class ModelServer {
  readonly bytes = randomBytes(3 * 1024 * 1024 + 17);
  requests = 0;
  hold = false;
  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(host: string): Promise<ModelServer> {
    let self: ModelServer | undefined;
    const server = createServer((_req, res) => {
      self!.requests += 1;
      if (self!.hold) return; // never answered: the app stays in start-up
      res.writeHead(200, { "content-length": self!.bytes.length }).end(self!.bytes);
    });
    await new Promise<void>((resolve) => server.listen(0, host, resolve));
    self = new ModelServer(server, `http://${host}:${(server.address() as AddressInfo).port}/model.bin`);
    return self;
  }

  md5(): string {
    return createHash("md5").update(this.bytes).digest("hex");
  }

  reset(): void {
    this.requests = 0;
    this.hold = false;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
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

function cacheJob(name: string, extra: Record<string, string> = {}, env: Record<string, string> = {}) {
  const token = service.tokenFor("refs/pull/12/merge", ["refs/heads/main"]);
  const { job, label } = world.job(
    { name, "cache-dirs": "/models", env: `MODEL_URL=${models.url}`, "health-path": "/model.txt", ...extra },
    { dockerfile: appDockerfile, env: { ...service.env(token), ...env } },
  );
  labels.push(label);
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
  it("the second preview, on an engine without the first's image, container and volume, starts without downloading", async () => {
    world = await PreviewWorld.start();
    const name = `cache-${randomBytes(3).toString("hex")}`;
    names.push(name);

    const first = cacheJob(name, { duration: "4s" });
    const firstRun = first.startMain();
    expect(await liveModelMd5(firstRun)).toBe(models.md5());
    const firstResult = await firstRun.done;
    expect(firstResult.code, firstResult.stdout).toBe(0);
    expect(models.requests).toBe(1);
    const saved = service.entries.filter((e) => e.finalized);
    expect(saved).toHaveLength(1);
    expect(saved[0]!.key).toMatch(new RegExp(`^ml-preview-${name}-linux-`));
    expect(firstResult.stdout).toContain(`cache-dirs: saved`);
    expect(firstResult.stdout).not.toContain("::warning::");
    expect((await first.post()).code).toBe(0);

    await removeApp(name);
    expect(await docker.listVolumes({ filters: { label: [`ml-preview.name=${name}`] } })).toMatchObject({
      Volumes: [],
    });
    await world.close();
    world = await PreviewWorld.start();

    const second = cacheJob(name, { duration: "4s" });
    const secondRun = second.startMain();
    expect(await liveModelMd5(secondRun)).toBe(models.md5());
    const secondResult = await secondRun.done;
    expect(secondResult.code, secondResult.stdout).toBe(0);
    expect(models.requests).toBe(1); // none from the second preview
    expect(secondResult.stdout).toContain(`restored 1 volume(s) from cache entry ${saved[0]!.key}`);
    // The key exists: nothing new is uploaded.
    expect(service.entries.filter((e) => e.finalized)).toHaveLength(1);
    expect(secondResult.stdout).not.toContain("::warning::");
    expect((await second.post()).code).toBe(0);
  });

  it("a preview cancelled during start-up leaves no cache entry", async () => {
    world = await PreviewWorld.start();
    const name = `cache-${randomBytes(3).toString("hex")}`;
    names.push(name);
    models.hold = true;
    const job = cacheJob(name);
    const main = job.startMain();
    await waitFor("the app to ask for the model", () => models.requests > 0);
    const result = await job.cancel(main);
    expect(result.outputs.status, result.stdout).toBe("stopped");
    // The cache was asked (restore) before the app started; nothing was reserved or uploaded after.
    expect(service.calls).toContain("GetCacheEntryDownloadURL");
    expect(service.entries).toEqual([]);
    expect(service.calls).not.toContain("CreateCacheEntry");
    expect((await job.post()).code).toBe(0);
  });

  it("volumes over the cache budget are reported, not uploaded", async () => {
    world = await PreviewWorld.start();
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
    world = await PreviewWorld.start();
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

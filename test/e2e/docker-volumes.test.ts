import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Writable } from "node:stream";
import type Docker from "dockerode";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/parse.js";
import { CacheDirs, type CacheStore } from "../../src/docker/cache-dirs.js";
import { startContainer } from "../../src/docker/container.js";
import { tarHeader } from "../../src/docker/context-tar.js";
import { sweepContainers } from "../../src/docker/sweep.js";
import type { AppContainer } from "../../src/docker/types.js";
import {
  type CacheScope,
  cacheVolumeName,
  emptyCacheVolumes,
  ensureCacheVolumes,
  exportVolume,
  importVolume,
  removeCacheVolumes,
} from "../../src/docker/volumes.js";
import type { PreparedImage } from "../../src/lifecycle/types.js";
import { silentLogger } from "../../src/log.js";
import { requireDocker } from "../support/docker.js";
import {
  buildTestImage,
  labelsFor,
  leftoverContainers,
  removeTestImages,
  runOptions,
  uniqueRun,
} from "../support/preview-containers.js";
import { waitFor } from "../support/preview-fixture.js";

const run = uniqueRun("e2e-volumes");
// A repo no one else uses: every volume this file creates is found (and removed) by it.
const scope: CacheScope = { repo: `ml-preview/e2e-${run}`, name: "app" };
const MODEL_DIR = "/root/.cache/model";
let docker: Docker;
let image: PreparedImage;
const tmp = mkdtempSync(join(tmpdir(), "ml-preview-volumes-"));
const started: AppContainer[] = [];

// The "app" downloads a model into MODEL_DIR on first start (a file owned by 1234:1234, mode 640, 64 KiB
// of bytes; the directory itself made 1234:1234, 750, as an app running as its own user would have it),
// then serves; on a warm start it finds the file and says so.
const dockerfile = [
  "FROM scratch",
  "COPY busybox /bin/busybox",
  'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
  `CMD ["/bin/sh", "-c", "if [ -f ${MODEL_DIR}/weights.bin ]; then echo warm; else mkdir -p ${MODEL_DIR}/sub && head -c 65536 /dev/urandom > ${MODEL_DIR}/weights.bin && echo config > ${MODEL_DIR}/sub/config.json && chown 1234:1234 ${MODEL_DIR} && chmod 750 ${MODEL_DIR} && chown -R 1234:1234 ${MODEL_DIR}/weights.bin && chmod 640 ${MODEL_DIR}/weights.bin && echo cold; fi; sleep 600"]`,
].join("\n");

beforeAll(async () => {
  docker = await requireDocker();
  image = buildTestImage(`ml-preview-e2e/volumes:${run}`, run, dockerfile);
});

afterEach(async () => {
  await Promise.all(started.splice(0).map((app) => app.remove()));
  const left = leftoverContainers(run);
  await sweepContainers(docker, { "ml-preview.run": run });
  expect(left).toEqual([]); // transfer containers included
});

afterAll(async () => {
  if (!docker) return;
  await removeCacheVolumes(docker, { repo: scope.repo });
  await removeTestImages(docker, run);
  rmSync(tmp, { recursive: true, force: true });
  const { Volumes } = await docker.listVolumes({ filters: { label: [`ml-preview.repo=${scope.repo}`] } });
  expect(Volumes ?? []).toEqual([]);
});

async function startApp(volumes: { name: string; path: string }[]): Promise<AppContainer> {
  const app = await startContainer(
    docker,
    image,
    { ...runOptions({ port: 8080 }), volumes },
    labelsFor(run, "app"),
    silentLogger,
  );
  started.push(app);
  return app;
}

async function firstLine(app: AppContainer): Promise<string> {
  return new Promise((resolve) => {
    const off = app.onLogLine?.((line) => {
      off?.();
      resolve(line);
    });
    void app.tail(1).then((lines) => {
      if (lines[0]) {
        off?.();
        resolve(lines[0]);
      }
    });
  });
}

async function exec(app: AppContainer, cmd: string): Promise<string> {
  const e = await docker
    .getContainer(app.id)
    .exec({ Cmd: ["sh", "-c", cmd], AttachStdout: true, AttachStderr: true });
  const stream = await e.start({});
  const out = new PassThrough();
  let text = "";
  out.on("data", (c) => (text += c));
  docker.modem.demuxStream(stream, out, out);
  await new Promise((r) => stream.on("end", r));
  return text.trim();
}

describe("cache volumes (real dockerd)", () => {
  it("names volumes deterministically per repo, app and path, and labels them", async () => {
    const a = await ensureCacheVolumes(docker, scope, [MODEL_DIR, "/data/nltk/"]);
    const again = await ensureCacheVolumes(docker, scope, [MODEL_DIR]);
    expect(again[0]?.name).toBe(a[0]?.name);
    expect(a[1]?.path).toBe("/data/nltk");
    expect(cacheVolumeName({ ...scope, name: "other" }, MODEL_DIR)).not.toBe(a[0]?.name);
    expect(cacheVolumeName({ ...scope, repo: "x/y" }, MODEL_DIR)).not.toBe(a[0]?.name);
    const info = await docker.getVolume(a[0]?.name ?? "").inspect();
    expect(info.Labels).toEqual({
      "ml-preview.repo": scope.repo,
      "ml-preview.name": "app",
      "ml-preview.cache-dir": MODEL_DIR,
    });
  });

  it("mounts the volume into the app (no bind mounts), exports it with owners, imports it into a fresh volume", async () => {
    const [volume] = await ensureCacheVolumes(docker, scope, [MODEL_DIR]);
    if (!volume) throw new Error("no volume");
    const cold = await startApp([volume]);
    expect(await firstLine(cold)).toBe("cold");
    const inspect = await docker.getContainer(cold.id).inspect();
    expect(inspect.HostConfig.Binds ?? []).toEqual([]);
    expect(inspect.Mounts).toEqual([
      expect.objectContaining({ Type: "volume", Name: volume.name, Destination: MODEL_DIR, RW: true }),
    ]);
    const original = await exec(cold, `sha256sum ${MODEL_DIR}/weights.bin | cut -d' ' -f1`);
    await cold.remove();

    // Same volume, new container: the app finds its download (the CLI's laptop case).
    const warm = await startApp([volume]);
    expect(await firstLine(warm)).toBe("warm");
    await warm.remove();

    const file = join(tmp, "model.tar");
    const transfer = { volume, labels: labelsFor(run, "transfer") };
    const exported = await exportVolume(docker, transfer, createWriteStream(file));
    expect(exported.overBudget).toBe(false);
    expect(exported.bytes).toBe(statSync(file).size);
    expect(exported.bytes).toBeGreaterThan(65536);

    // As on a fresh runner: the volume is gone, a new one is filled from the tar before the app starts.
    expect(await removeCacheVolumes(docker, scope)).toContain(volume.name);
    const [fresh] = await ensureCacheVolumes(docker, scope, [MODEL_DIR]);
    if (!fresh) throw new Error("no volume");
    const imported = await importVolume(
      docker,
      { ...transfer, volume: fresh },
      createReadStream(file, { highWaterMark: 4096 }),
    );
    expect(imported).toBe(exported.bytes);

    const restored = await startApp([fresh]);
    expect(await firstLine(restored)).toBe("warm");
    expect(await exec(restored, `sha256sum ${MODEL_DIR}/weights.bin | cut -d' ' -f1`)).toBe(original);
    expect(await exec(restored, `stat -c '%u:%g %a' ${MODEL_DIR}/weights.bin`)).toBe("1234:1234 640");
    expect(await exec(restored, `cat ${MODEL_DIR}/sub/config.json`)).toBe("config");
    // The volume's root too: the engine skips an archive's root when it extracts into a directory.
    expect(await exec(restored, `stat -c '%u:%g %a' ${MODEL_DIR}`)).toBe("1234:1234 750");
  });

  it("stops a copy whose source fails part-way, with the source's error, and empties the volume on request", async () => {
    const [volume] = await ensureCacheVolumes(docker, { ...scope, name: "cut" }, [MODEL_DIR]);
    if (!volume) throw new Error("no volume");
    const transfer = { volume, labels: labelsFor(run, "transfer") };
    // A tar whose one file promises 1 MiB, cut off after 64 KiB by a download that fails.
    const source = new PassThrough();
    const header = tarHeader({ name: "weights.bin", type: "file", mode: 0o644, size: 1024 * 1024, mtime: 0 });
    source.write(header);
    source.write(Buffer.alloc(65536, 1));
    // It fails once the engine reads from it (pipe() resumes it).
    source.once("resume", () =>
      setImmediate(() => source.destroy(new Error("the cache's storage answered 503"))),
    );
    const copy = importVolume(docker, transfer, source);
    await expect(copy).rejects.toThrow(/the cache's storage answered 503/);
    expect(leftoverContainers(run)).toEqual([]);

    await emptyCacheVolumes(docker, [volume]);
    const app = await startApp([volume]);
    expect(await firstLine(app)).toBe("cold");
  });

  it("a restore cut part-way empties the volume again: the app starts cold, after one warning", async () => {
    const name = "cut-restore";
    const config = parseConfig(
      { "ngrok-authtoken": "2abcToken_xyz", image: "app:1", name, "cache-dirs": MODEL_DIR },
      { workspace: tmp },
    );
    const warnings: string[] = [];
    const log = { ...silentLogger, warning: (m: string) => void warnings.push(m) };
    // The entry's one file: a tar promising a 1 MiB weights.bin, of which 64 KiB arrive; once the engine
    // has written them into the volume, the storage refuses the rest.
    const content = new PassThrough();
    content.write(tarHeader({ name: "weights.bin", type: "file", mode: 0o644, size: 1024 * 1024, mtime: 0 }));
    content.write(Buffer.alloc(65536, 1));
    const volumeDir = async () =>
      (await docker.getVolume(cacheVolumeName({ repo: scope.repo, name }, MODEL_DIR)).inspect()).Mountpoint;
    const partial = waitFor("part of weights.bin in the volume", async () =>
      existsSync(join(await volumeDir().catch(() => "/nonexistent"), "weights.bin")),
    ).then(() => content.destroy(new Error("the cache's storage answered 403 AuthenticationFailed")));
    const file = `${createHash("sha256").update(MODEL_DIR).digest("hex").slice(0, 16)}.tar`;
    const store = {
      restore: async () => ({ key: "k", files: [{ name: file, content }][Symbol.iterator]() }),
      save: async () => undefined,
    };
    const dirs = new CacheDirs(config, {
      docker,
      log,
      labels: { ...labelsFor(run, "app"), "ml-preview.repo": scope.repo, "ml-preview.name": name },
      store: store as unknown as CacheStore,
    });
    const volumes = await dirs.mount();
    await partial;
    expect(warnings).toEqual([
      expect.stringMatching(
        /^cache-dirs: could not restore the cache \(.*403 AuthenticationFailed\); the app starts cold\.$/,
      ),
    ]);
    expect(leftoverContainers(run)).toEqual([]);
    const app = await startApp(volumes);
    expect(await firstLine(app)).toBe("cold");
  });

  it("stops an export that grows past the budget and reports it", async () => {
    const [volume] = await ensureCacheVolumes(docker, { ...scope, name: "budget" }, [MODEL_DIR]);
    if (!volume) throw new Error("no volume");
    const app = await startApp([volume]);
    expect(await firstLine(app)).toBe("cold");
    await app.remove();
    let written = 0;
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        written += chunk.length;
        done();
      },
    });
    const transfer = { volume, labels: labelsFor(run, "transfer") };
    const result = await exportVolume(docker, transfer, sink, 10_000);
    expect(result.overBudget).toBe(true);
    expect(result.bytes).toBeGreaterThan(10_000);
    expect(written).toBeLessThanOrEqual(10_000);
    expect(sink.destroyed).toBe(true);
  });

  it("refuses what is not a tar, naming the volume, and leaves no transfer container", async () => {
    const [volume] = await ensureCacheVolumes(docker, { ...scope, name: "broken" }, [MODEL_DIR]);
    if (!volume) throw new Error("no volume");
    const transfer = { volume, labels: labelsFor(run, "transfer") };
    const notTar = new PassThrough();
    notTar.end(Buffer.alloc(4096, 7));
    await expect(importVolume(docker, transfer, notTar)).rejects.toMatchObject({
      code: "CACHE_VOLUME",
      message: expect.stringContaining(`Could not copy volume ${volume.name} (${MODEL_DIR})`),
    });
    expect(leftoverContainers(run)).toEqual([]);
  });

  it("reports an engine refusal as a PreviewError naming the volume", async () => {
    const volume = { name: "not/a volume name", path: "/x" };
    const transfer = { volume, labels: labelsFor(run, "transfer") };
    await expect(exportVolume(docker, transfer, new PassThrough())).rejects.toMatchObject({
      code: "CACHE_VOLUME",
      message: expect.stringMatching(/^Could not create a container to reach volume not\/a volume name: .+/),
    });
  });
});

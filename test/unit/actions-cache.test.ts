import { execFileSync, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Readable } from "node:stream";
import * as cache from "@actions/cache";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { actionsCacheStore, streamableService } from "../../src/action/actions-cache.js";
import { parseConfig } from "../../src/config/parse.js";
import { type CacheStore, CacheUnavailable, type RestoredEntry } from "../../src/docker/cache-dirs.js";
import type { Logger } from "../../src/log.js";
import { ActionsCacheService } from "../support/actions-cache/index.js";
import { InProcessJob } from "../support/actions-cache/job.js";

// The streaming restore against the Actions cache stand-in, with entries written by @actions/cache's own
// saveCache: the same lookup version (a different one would be a miss), the same archive format and
// compression, read in ranges while it arrives.
let service: ActionsCacheService;
let job: InProcessJob;
const logged: string[] = [];
const log: Logger = {
  info: (m) => void logged.push(`info ${m}`),
  debug() {},
  warning: (m) => void logged.push(`warning ${m}`),
  group: (_t, fn) => fn(),
};

beforeAll(async () => {
  service = await ActionsCacheService.start();
});
afterAll(async () => {
  await service?.close();
});
beforeEach(() => {
  job = new InProcessJob(service, service.tokenFor("refs/heads/main"));
  logged.length = 0;
});
afterEach(() => {
  job.end();
  service.reset();
});

function store(): CacheStore {
  const config = parseConfig(
    { "ngrok-authtoken": "2abcToken_xyz", image: "app:1", "cache-dirs": "/models" },
    { workspace: job.workspace },
  );
  const { cacheStore } = actionsCacheStore(config, process.env, log);
  if (!cacheStore) throw new Error("no cache store");
  return cacheStore;
}

/** Files of `sizes` random bytes in a directory of the workspace, saved by @actions/cache under `key`. */
async function saved(
  key: string,
  sizes: Record<string, number>,
): Promise<{ dir: string; files: Record<string, string> }> {
  const dir = join(job.workspace, "entry");
  mkdirSync(dir, { recursive: true });
  const files: Record<string, string> = {};
  for (const [name, size] of Object.entries(sizes)) {
    const content = randomBytes(size);
    files[name] = sha(content);
    writeFileSync(join(dir, name), content);
  }
  expect(await cache.saveCache([dir], key)).toBeGreaterThan(0);
  rmSync(dir, { recursive: true, force: true });
  return { dir, files };
}

/** The entry's files as name → sha256 (a failed comparison of 20 MB buffers would print them whole). */
async function readAll(entry: RestoredEntry): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for await (const file of entry.files) out[file.name] = sha(await bytes(file.content));
  return out;
}

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

async function bytes(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const RANGE = 8 * 1024 * 1024;

describe("the streaming restore of cache-dirs (against entries @actions/cache saved)", () => {
  it("finds the entry saveCache wrote and streams its files byte for byte, reading the blob in ranges", async () => {
    const { dir, files } = await saved("models-a", { "aaaa.tar": 2.5 * RANGE, "bbbb.tar": 1000 });
    const entry = await store().restore([dir], "models-a", [], new AbortController().signal);
    expect(entry).toMatchObject({ key: "models-a" });
    expect(await readAll(entry!)).toEqual(files);
    const blob = service.entries[0]!;
    expect(entry!.sizeBytes).toBe(service.blobStore.blobs.get(blob.blobPath)!.length);
    // zstd hardly shrinks random bytes: the 20 MB entry is read as three ranges.
    const reads = service.blobStore.requests.filter((r) => r.method === "GET");
    expect(reads).toHaveLength(Math.ceil(entry!.sizeBytes! / RANGE));
    expect(reads.length).toBeGreaterThan(2);
    expect(logged).toEqual([]);
  });

  it("reads gzip entries when zstd is not installed (saveCache then writes gzip, and the version says so)", async () => {
    // A PATH with tar and gzip, without zstd.
    const bin = join(job.workspace, "bin");
    mkdirSync(bin);
    for (const tool of ["tar", "gzip"])
      symlinkSync(execFileSync("which", [tool]).toString().trim(), join(bin, tool));
    process.env.PATH = bin;
    const { dir, files } = await saved("models-gz", { "cccc.tar": 300_000 });
    expect(service.entries[0]!.version).not.toBe("");
    const entry = await store().restore([dir], "models-gz", [], new AbortController().signal);
    expect(await readAll(entry!)).toEqual(files);
  });

  it("matches a restore key; misses another version (other paths) or key", async () => {
    const { dir } = await saved("models-deps-a", { "dddd.tar": 10 });
    const s = store();
    const signal = new AbortController().signal;
    expect((await s.restore([dir], "models-deps-b", ["models-deps-"], signal))?.key).toBe("models-deps-a");
    expect(await s.restore([`${dir}-other`], "models-deps-a", [], signal)).toBeUndefined();
    expect(await s.restore([dir], "other", ["oth"], signal)).toBeUndefined();
  });

  it("a cache service answering 500 is asked again, then one warning, and CacheUnavailable (no save after)", async () => {
    service.failWith(500);
    const attempt = store().restore(["/tmp/x"], "k", [], new AbortController().signal);
    await expect(attempt).rejects.toBeInstanceOf(CacheUnavailable);
    expect(logged.filter((l) => l.includes("asking again"))).toHaveLength(2);
    const warnings = logged.filter((l) => l.startsWith("warning"));
    expect(warnings).toEqual([
      expect.stringMatching(/^warning Failed to restore cache-dirs .*answered 500.*3 attempts/),
    ]);
  });

  it("storage failing mid-entry errors the read, so the copy stops", async () => {
    const { dir } = await saved("models-cut", { "eeee.tar": 3 * RANGE });
    service.blobStore.expireFrom = RANGE; // the signed URL refused from the second range on
    const entry = await store().restore([dir], "models-cut", [], new AbortController().signal);
    // The error reaches the reader, of the file or of the entry (whichever the cut reaches first): no hang,
    // no file cut short that looks whole.
    await expect(readAll(entry!)).rejects.toThrow(/storage answered 403 AuthenticationFailed/);
  });

  it("a stop (abort) errors the file being read, and the reader leaving stops zstd", async () => {
    const { dir } = await saved("models-stop", { "ffff.tar": 3 * RANGE });
    const stop = new AbortController();
    const entry = await store().restore([dir], "models-stop", [], stop.signal);
    const files = entry!.files[Symbol.asyncIterator]();
    const first = await files.next();
    first.value!.content.once("data", () => stop.abort(new Error("the preview ended")));
    await expect(bytes(first.value!.content)).rejects.toThrow(/the preview ended/);
    // The reader leaves (as a for-await does on an error): no zstd is left behind.
    await files.return!(undefined);
    const children = () =>
      spawnSync("ps", ["-o", "comm=", "--ppid", String(process.pid)], { encoding: "utf8" });
    await vi.waitFor(() => expect(children().stdout).not.toMatch(/zstd/));
  });

  it("streams only where @actions/cache would use service v2 and may read", () => {
    const env = service.env(service.tokenFor("refs/heads/main"));
    expect(streamableService(env)).toBeDefined();
    expect(streamableService({ ...env, GITHUB_SERVER_URL: "https://ghes.example.com" })).toBeUndefined();
    expect(streamableService({ ...env, ACTIONS_CACHE_SERVICE_V2: "" })).toBeUndefined();
    expect(streamableService({ ...env, ACTIONS_CACHE_MODE: "write-only" })).toBeUndefined();
    expect(streamableService({ ...env, ACTIONS_CACHE_MODE: "read" })).toBeDefined();
    expect(streamableService({ ...env, ACTIONS_CACHE_MODE: "something-new" })).toBeDefined();
  });
});

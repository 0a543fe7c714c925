import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as cache from "@actions/cache";
import { BlockBlobClient } from "@azure/storage-blob";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ActionsCacheService, SERVICE } from "../support/actions-cache/index.js";
import { InProcessJob } from "../support/actions-cache/job.js";

// The stand-in is driven by the real @actions/cache client (cache service v2, Twirp + Azure SDK blobs).
let service: ActionsCacheService;
let job: InProcessJob;

beforeAll(async () => {
  service = await ActionsCacheService.start();
});

afterAll(async () => {
  await service?.close();
});

beforeEach(() => {
  job = new InProcessJob(service, service.tokenFor("refs/heads/main"));
});

afterEach(() => {
  job.end();
  service.reset();
});

/** A "model" directory in the workspace with random bytes; returns them. */
function writeModel(dir = "model"): Buffer {
  const bytes = randomBytes(200_000);
  mkdirSync(join(job.workspace, dir), { recursive: true });
  writeFileSync(join(job.workspace, dir, "weights.bin"), bytes);
  return bytes;
}

/** Absolute, as the product will pass them (globs resolve against the cwd, archives against the workspace). */
function at(dir: string): string {
  return join(job.workspace, dir);
}

function clearModel(dir = "model"): void {
  rmSync(join(job.workspace, dir), { recursive: true, force: true });
}

describe("Actions cache stand-in, driven by @actions/cache", () => {
  it("saves and restores an exact key with the same bytes; another key is a miss", async () => {
    const bytes = writeModel();
    const id = await cache.saveCache([at("model")], "models-linux-abc");
    expect(id).toBeGreaterThan(0);
    expect(service.calls).toEqual(["CreateCacheEntry", "FinalizeCacheEntryUpload"]);
    expect(service.entries.at(-1)).toMatchObject({ key: "models-linux-abc", finalized: true });

    clearModel();
    expect(await cache.restoreCache([at("model")], "models-linux-abc")).toBe("models-linux-abc");
    expect(readFileSync(join(job.workspace, "model", "weights.bin")).equals(bytes)).toBe(true);
    expect(await cache.restoreCache([at("model")], "models-linux-zzz")).toBeUndefined();
    expect(job.warnings()).toEqual([]);
  });

  it("matches restore keys by prefix, newest first, and a PR reads the default branch's entries", async () => {
    writeModel();
    await cache.saveCache([at("model")], "weights-1");
    const newest = writeModel();
    await cache.saveCache([at("model")], "weights-2");
    clearModel();

    job.use(service.tokenFor("refs/pull/7/merge", ["refs/heads/main"]));
    expect(await cache.restoreCache([at("model")], "weights-3", ["weights-"])).toBe("weights-2");
    expect(readFileSync(join(job.workspace, "model", "weights.bin")).equals(newest)).toBe(true);

    // What the PR saves stays in its own scope: main does not see it, nor does another PR.
    await cache.saveCache([at("model")], "pr-only");
    job.use(service.tokenFor("refs/heads/main"));
    expect(await cache.restoreCache([at("model")], "pr-only")).toBeUndefined();
    job.use(service.tokenFor("refs/pull/8/merge", ["refs/heads/main"]));
    expect(await cache.restoreCache([at("model")], "pr-only", ["pr-"])).toBeUndefined();
    // What a run on main saves (a dispatch, a PR command's run), every PR reads.
    job.use(service.tokenFor("refs/heads/main"));
    await cache.saveCache([at("model")], "main-entry");
    job.use(service.tokenFor("refs/pull/8/merge", ["refs/heads/main"]));
    expect(await cache.restoreCache([at("model")], "main-entry")).toBe("main-entry");
  });

  it("refuses a second entry for the same key and version (another job may be creating it)", async () => {
    writeModel();
    const first = await cache.saveCache([at("model")], "same-key");
    const second = await cache.saveCache([at("model")], "same-key");
    expect(first).toBeGreaterThan(0);
    expect(second).toBe(-1);
    expect(service.entries.filter((e) => e.key === "same-key")).toHaveLength(1);
    expect(job.printed.join("")).toMatch(/Unable to reserve cache with key same-key/);
  });

  it("denies writes to a read-only token without failing, and still lets it read", async () => {
    writeModel();
    await cache.saveCache([at("model")], "shared");
    job.use(service.tokenFor("refs/pull/9/merge", ["refs/heads/main"], { write: false }));
    expect(await cache.saveCache([at("model")], "mine")).toBe(-1);
    expect(job.warnings().join("")).toMatch(/cache write denied: token has no writable scopes/);
    expect(service.entries.map((e) => e.key)).toEqual(["shared"]);
    expect(await cache.restoreCache([at("model")], "shared")).toBe("shared");
  });

  it("treats another version (other paths) as a miss", async () => {
    writeModel("model");
    writeModel("other");
    await cache.saveCache([at("model")], "versioned");
    expect(await cache.restoreCache([at("other")], "versioned")).toBeUndefined();
    expect(await cache.restoreCache([at("model")], "versioned")).toBe("versioned");
  });

  it("is down: restore is a miss with a warning, save gives up, nothing thrown", async () => {
    writeModel();
    service.down();
    expect(await cache.restoreCache([at("model")], "k")).toBeUndefined();
    expect(await cache.saveCache([at("model")], "k")).toBe(-1);
    expect(job.warnings().join("")).toMatch(/Failed to restore: .*ECONNRESET/);
    // The client reports a refused reservation as info ("another job may be creating this cache").
    expect(job.printed.join("")).toMatch(/Failed to save: Unable to reserve cache with key k/);
    expect(service.entries).toEqual([]);
  });

  it("answers 500: the client retries as for the real service, then restores nothing with a warning", async () => {
    service.failWith(500);
    expect(await cache.restoreCache([at("model")], "k")).toBeUndefined();
    expect(job.printed.join("")).toMatch(/Failed to make request after 5 attempts: Failed request: \(500\)/);
  }, 60_000);
});

describe("Actions cache stand-in, strictness at the protocol level", () => {
  async function twirp(method: string, body: unknown, token?: string) {
    const res = await fetch(`${service.env("").ACTIONS_RESULTS_URL}twirp/${SERVICE}/${method}`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${token ?? service.tokenFor("refs/heads/main")}`,
      },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  it("refuses bad keys, unknown entries, unknown tokens and blobs never uploaded", async () => {
    expect(await twirp("CreateCacheEntry", { key: "k".repeat(513), version: "v" })).toMatchObject({
      status: 400,
      body: { code: "invalid_argument" },
    });
    expect((await twirp("CreateCacheEntry", { key: "a,b", version: "v" })).status).toBe(400);
    expect((await twirp("CreateCacheEntry", { key: "a", version: "" })).status).toBe(400);
    expect(
      await twirp("FinalizeCacheEntryUpload", { key: "nope", version: "v", size_bytes: "1" }),
    ).toMatchObject({
      status: 404,
      body: { code: "not_found" },
    });
    expect((await twirp("CreateCacheEntry", { key: "a", version: "v" }, "forged")).status).toBe(401);
    expect((await twirp("DeleteCacheEntry", { key: "a" })).body).toMatchObject({ code: "bad_route" });

    const token = service.tokenFor("refs/heads/x");
    expect((await twirp("CreateCacheEntry", { key: "a", version: "v" }, token)).status).toBe(200);
    expect(
      (await twirp("FinalizeCacheEntryUpload", { key: "a", version: "v", size_bytes: "0" }, token)).body,
    ).toMatchObject({ code: "failed_precondition" });
    // A reserved entry whose upload never finished is no cache: lookups miss it.
    expect((await twirp("GetCacheEntryDownloadURL", { key: "a", version: "v" }, token)).body).toEqual({
      ok: false,
    });
  });

  it("serves blocks, block lists and ranges to the Azure SDK, and refuses bad signatures", async () => {
    const token = service.tokenFor("refs/heads/blocks");
    const { body } = await twirp("CreateCacheEntry", { key: "blocks", version: "v" }, token);
    const uploadUrl = String(body.signed_upload_url);
    const data = randomBytes(3 * 1024 * 1024 + 17);
    await new BlockBlobClient(uploadUrl).uploadData(data, {
      maxSingleShotSize: 1024 * 1024,
      blockSize: 1024 * 1024,
    });
    const comps = service.blobStore.requests.filter((r) => r.method === "PUT").map((r) => r.comp);
    expect(comps).toEqual(["block", "block", "block", "block", "blocklist"]);
    await twirp(
      "FinalizeCacheEntryUpload",
      { key: "blocks", version: "v", size_bytes: String(data.length) },
      token,
    );

    const found = await twirp("GetCacheEntryDownloadURL", { key: "blocks", version: "v" }, token);
    const reader = new BlockBlobClient(String(found.body.signed_download_url));
    expect((await reader.getProperties()).contentLength).toBe(data.length);
    expect((await reader.downloadToBuffer(1000, 5000)).equals(data.subarray(1000, 6000))).toBe(true);

    // Read-only URL cannot write; a tampered signature cannot read.
    await expect(reader.upload("x", 1)).rejects.toMatchObject({ statusCode: 403 });
    const tampered = String(found.body.signed_download_url).replace(/sig=[^&]+/, "sig=AAAA");
    await expect(new BlockBlobClient(tampered).getProperties()).rejects.toMatchObject({ statusCode: 403 });
    await expect(reader.download(data.length + 10, 5)).rejects.toMatchObject({ statusCode: 416 });
  });
});

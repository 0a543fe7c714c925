import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { on } from "node:events";
import { createReadStream, readdirSync, rmSync } from "node:fs";
import { basename, join } from "node:path";
import { PassThrough, Readable, type Transform } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import * as zlib from "node:zlib";
import * as cache from "@actions/cache";
import * as core from "@actions/core";
import { HttpClient, type HttpClientResponse } from "@actions/http-client";
import { extract as tarExtract } from "tar-stream";
import type { PreviewConfig } from "../config/types.js";
import { type CacheFile, CacheUnavailable, type RestoredEntry } from "../docker/cache-dirs.js";
import type { DockerRuntimeOptions } from "../docker/runtime.js";
import type { Logger } from "../log.js";

/**
 * `cache-dirs` through the GitHub Actions cache. Saves go through @actions/cache's saveCache. Restores
 * stream: the entry goes from the cache's blob storage through zstd (or gunzip) and the entry's tar straight
 * into the volumes, while restoreCache would download it to a file, unpack that to files, and only then
 * could we copy them into the engine: three passes over a model of hundreds of MB on the app's critical
 * path (npm run bench -- model-cache). The lookup is the call restoreCache makes (GetCacheEntryDownloadURL
 * of cache service v2) with the version it computes (paths, compression, salt), so entries saveCache wrote
 * are found, and the entry's blob is read in ranges, several at once, as its Azure client does;
 * test/unit/actions-cache.test.ts holds both against @actions/cache itself. Where the job's cache is not
 * service v2 (GHES) or may not be read (ACTIONS_CACHE_MODE), restoreCache does it, to files.
 */
export function actionsCacheStore(
  config: PreviewConfig,
  env: NodeJS.ProcessEnv,
  log: Logger,
): Pick<DockerRuntimeOptions, "cacheStore" | "cacheBudgetBytes"> {
  if (config.cacheDirs.paths.length === 0) return {};
  if (!cache.isFeatureAvailable()) {
    log.warning(
      "cache-dirs: this job has no GitHub Actions cache service; the volumes are kept on this runner only.",
    );
    return {};
  }
  const gbs = Number(env.ML_PREVIEW_CACHE_BUDGET_GB);
  const service = streamableService(env);
  return {
    cacheStore: {
      restore: (paths, key, restoreKeys, signal) =>
        service
          ? streamRestore(service, { paths, key, restoreKeys }, log, signal)
          : fileRestore(paths, key, restoreKeys),
      save: (paths, key) => cache.saveCache(paths, key),
    },
    cacheBudgetBytes: gbs > 0 ? gbs * 1024 ** 3 : undefined,
  };
}

/** Twirp service of the results API that holds the cache (cache service v2). */
const CACHE_SERVICE = "github.actions.results.api.v1.CacheService";
/** Lookups on the app's critical path: a few quick retries, then the app starts cold. */
const ATTEMPTS = 3;
const RETRY_MS = 1000;
const RETRYABLE = new Set([429, 500, 502, 503, 504]);
/** Blob ranges: 8 MiB each, four in flight (at most 40 MiB held while the engine writes). */
const RANGE_BYTES = 8 * 1024 * 1024;
const RANGES_IN_FLIGHT = 4;
/**
 * What each step of the restore (download, zstd, tar, the engine) may hold ahead of the next: with the
 * streams' 16-64 KiB defaults they take turns on 2 cores instead of running side by side.
 */
const BUFFER_BYTES = 8 * 1024 * 1024;
/** The Blob service version @actions/cache's Azure client speaks. */
const BLOB_API_VERSION = "2026-04-06";

interface CacheService {
  readonly url: string;
  readonly token: string;
}

/** The job's cache service when restores may stream (v2, readable), as @actions/cache decides it. */
export function streamableService(env: NodeJS.ProcessEnv): CacheService | undefined {
  const host = new URL(env.GITHUB_SERVER_URL || "https://github.com").hostname.toUpperCase();
  const ghes = host !== "GITHUB.COM" && !host.endsWith(".GHE.COM") && !host.endsWith(".LOCALHOST");
  const mode = (env.ACTIONS_CACHE_MODE ?? "").trim().toLowerCase();
  const readable =
    !["none", "read", "write", "write-only"].includes(mode) || ["read", "write"].includes(mode);
  const [url, token] = [env.ACTIONS_RESULTS_URL, env.ACTIONS_RUNTIME_TOKEN];
  if (ghes || !env.ACTIONS_CACHE_SERVICE_V2 || !readable || !url || !token) return undefined;
  return { url, token };
}

/** @actions/cache's compression: zstd when `zstd` answers on PATH (without long-distance matching), else gzip. */
export async function compressionMethod(): Promise<"zstd-without-long" | "gzip"> {
  const output = await new Promise<string>((resolve) =>
    execFile("zstd", ["--quiet", "--version"], (_err, stdout, stderr) =>
      resolve(`${stdout ?? ""}${stderr ?? ""}`.trim()),
    ),
  );
  return output ? "zstd-without-long" : "gzip";
}

/** @actions/cache's entry version: the paths, the compression and its format salt. */
export function cacheVersion(paths: readonly string[], compression: string): string {
  const parts = [...paths, compression, ...(process.platform === "win32" ? ["windows-only"] : []), "1.0"];
  return createHash("sha256").update(parts.join("|")).digest("hex");
}

async function streamRestore(
  service: CacheService,
  want: { paths: string[]; key: string; restoreKeys: string[] },
  log: Logger,
  signal: AbortSignal,
): Promise<RestoredEntry | undefined> {
  const compression = await compressionMethod();
  const http = new HttpClient("ml-preview", [], { allowRetries: false, keepAlive: true });
  let hit: { key: string; url: string } | undefined;
  try {
    hit = await lookup(
      http,
      service,
      { ...want, version: cacheVersion(want.paths, compression) },
      log,
      signal,
    );
  } catch (err) {
    http.dispose();
    if (signal.aborted) throw err;
    log.warning(`Failed to restore cache-dirs from the Actions cache: ${(err as Error).message}`);
    throw new CacheUnavailable("the cache service failed");
  }
  if (!hit) return void http.dispose();
  const blob = await readBlob(http, hit.url, signal).catch((err: unknown) => {
    http.dispose();
    throw err;
  });
  const unpacked = unpack(blob.stream, compression);
  const files = entryFiles(unpacked, signal, () => {
    unpacked.stop();
    http.dispose();
  });
  return { key: hit.key, sizeBytes: blob.size, files };
}

/** The entry's tar coming out of its compression; done settles when the decompressor has finished. */
interface Unpacked {
  readonly tar: Readable;
  readonly done: Promise<void>;
  /** Stops reading the blob and decompressing: at the end, or when the reader stops early. */
  stop(): void;
}

/** GetCacheEntryDownloadURL, retried on 5xx, 429 and network errors; undefined: no entry. */
async function lookup(
  http: HttpClient,
  service: CacheService,
  request: { key: string; restoreKeys: string[]; version: string },
  log: Logger,
  signal: AbortSignal,
): Promise<{ key: string; url: string } | undefined> {
  const url = new URL(`/twirp/${CACHE_SERVICE}/GetCacheEntryDownloadURL`, service.url).href;
  const body = JSON.stringify({
    key: request.key,
    restore_keys: request.restoreKeys,
    version: request.version,
  });
  const headers = { "Content-Type": "application/json", Authorization: `Bearer ${service.token}` };
  for (let attempt = 1; ; attempt++) {
    let problem: string;
    let retry = true;
    try {
      const res = await http.post(url, body, headers);
      const status = res.message.statusCode ?? 0;
      const text = await res.readBody();
      if (status >= 200 && status < 300) return lookupAnswer(text);
      problem = `GetCacheEntryDownloadURL answered ${status}${twirpMessage(text)}`;
      retry = RETRYABLE.has(status);
    } catch (err) {
      problem = `GetCacheEntryDownloadURL failed: ${(err as Error).message}`;
    }
    if (!retry || attempt === ATTEMPTS)
      throw new Error(retry ? `${problem} (${ATTEMPTS} attempts)` : problem);
    const wait = RETRY_MS * attempt;
    log.info(
      `cache-dirs: ${problem}; asking again in ${wait / 1000} s (attempt ${attempt + 1} of ${ATTEMPTS}).`,
    );
    await sleep(wait, undefined, { signal });
  }
}

/** Twirp answers in protobuf JSON: field names as in the .proto (snake_case) or lowerCamelCase. */
function lookupAnswer(text: string): { key: string; url: string } | undefined {
  const answer = JSON.parse(text) as Record<string, unknown>;
  if (!answer.ok) return undefined;
  const url = String(answer.signed_download_url ?? answer.signedDownloadUrl ?? "");
  const key = String(answer.matched_key ?? answer.matchedKey ?? "");
  if (!url || !key) throw new Error("GetCacheEntryDownloadURL answered ok without a URL or key");
  // A signed URL is a credential for the entry: never in a log.
  const sig = new URL(url).searchParams.get("sig");
  if (sig) core.setSecret(sig);
  return { key, url };
}

function twirpMessage(text: string): string {
  try {
    const msg = (JSON.parse(text) as { msg?: string }).msg;
    return msg ? `: ${msg}` : "";
  } catch {
    return "";
  }
}

/**
 * The entry's blob as a stream, read in RANGE_BYTES ranges, RANGES_IN_FLIGHT at once, in order. The first
 * range is read before this returns: a refused URL or a missing blob fails here, and its Content-Range
 * gives the size.
 */
async function readBlob(
  http: HttpClient,
  url: string,
  signal: AbortSignal,
): Promise<{ size: number; stream: Readable }> {
  const first = await readRange(http, url, 0, signal);
  async function* ranges(): AsyncGenerator<Buffer> {
    yield first.body;
    const pending: Promise<{ body: Buffer }>[] = [];
    let next = Math.min(RANGE_BYTES, first.size);
    const fill = () => {
      for (; pending.length < RANGES_IN_FLIGHT && next < first.size; next += RANGE_BYTES) {
        const read = readRange(http, url, next, signal);
        read.catch(() => undefined); // awaited in turn below
        pending.push(read);
      }
    };
    fill();
    while (pending.length > 0) {
      const { body } = await pending.shift()!;
      fill();
      yield body;
    }
  }
  return { size: first.size, stream: Readable.from(ranges(), { objectMode: false }) };
}

/**
 * One range of the blob (Get Blob with x-ms-range), retried on 5xx and network errors. Its body in one
 * buffer: the decompressor then gets few large writes (zlib's zstd costs a thread hand-off per write).
 */
async function readRange(
  http: HttpClient,
  url: string,
  start: number,
  signal: AbortSignal,
): Promise<{ body: Buffer; size: number }> {
  const headers = {
    "x-ms-range": `bytes=${start}-${start + RANGE_BYTES - 1}`,
    "x-ms-version": BLOB_API_VERSION,
  };
  for (let attempt = 1; ; attempt++) {
    signal.throwIfAborted();
    let problem: string;
    let retry = true;
    try {
      const res: HttpClientResponse = await http.get(url, headers);
      const status = res.message.statusCode ?? 0;
      if (status === 206 || (status === 200 && start === 0)) {
        const body = await res.readBodyBuffer!();
        const length = body.length;
        const range = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(String(res.message.headers["content-range"] ?? ""));
        const size = range ? Number(range[3]) : length;
        if ((range && Number(range[1]) !== start) || length !== Math.min(RANGE_BYTES, size - start))
          throw new Error(`the cache's storage sent ${length} bytes for the range at ${start}`);
        return { body, size };
      }
      await res.readBody();
      const code = res.message.headers["x-ms-error-code"] ?? res.message.statusMessage ?? "";
      problem = `the cache's storage answered ${status} ${code}`.trim();
      retry = status >= 500;
    } catch (err) {
      problem = `reading the cache entry failed: ${(err as Error).message}`;
    }
    if (!retry || attempt === ATTEMPTS) throw new Error(problem);
    await sleep(RETRY_MS * attempt, undefined, { signal });
  }
}

/** The entry's tar out of its compression: in-process (gzip; zstd on node 22.15+) or the zstd program. */
function unpack(archive: Readable, compression: string): Unpacked {
  // The runner's node24 decompresses zstd itself, off the main thread; older nodes ask zstd, as
  // @actions/cache's tar does.
  const zlibZstd = (zlib as { createZstdDecompress?: (o: zlib.ZlibOptions) => Transform })
    .createZstdDecompress;
  const inProcess = compression === "gzip" ? zlib.createGunzip : zlibZstd;
  if (inProcess) {
    // 1 MiB out at a time (zlib's default is 16 KiB): hundreds of MB in few chunks.
    const decompress = inProcess({ chunkSize: 1024 * 1024 });
    archive.once("error", (err) => decompress.destroy(err));
    const stop = () => {
      archive.destroy();
      decompress.destroy();
    };
    return { tar: archive.pipe(decompress), done: Promise.resolve(), stop };
  }
  const zstd = spawn("zstd", ["-d", "-c", "-q"], { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  zstd.stderr.on("data", (chunk) => (stderr += chunk));
  zstd.stdin.on("error", () => undefined); // EPIPE when zstd stops first: its exit says why
  archive.once("error", (err) => {
    zstd.stdout.destroy(err);
    zstd.kill();
  });
  archive.pipe(zstd.stdin);
  const done = new Promise<void>((resolve, reject) => {
    zstd.once("error", reject);
    zstd.once("close", (code) =>
      code === 0 ? resolve() : reject(new Error(`zstd -d exited with ${code}: ${stderr.trim()}`)),
    );
  });
  done.catch((err: Error) => zstd.stdout.destroy(err));
  const stop = () => {
    archive.destroy();
    zstd.stdout.destroy();
    if (zstd.exitCode === null) zstd.kill();
  };
  return { tar: zstd.stdout, done, stop };
}

/**
 * The files of the entry's tar (GNU tar, --posix, paths relative to the workspace), by base name, as
 * they arrive. A failure upstream (download, zstd) or `signal` errors the file being read, so the copy
 * into the engine stops instead of waiting for the rest of a file that will not come. `end` runs when
 * the reader is done or leaves.
 */
async function* entryFiles(
  unpacked: Unpacked,
  signal: AbortSignal,
  end: () => void,
): AsyncGenerator<CacheFile> {
  const extract = tarExtract({ highWaterMark: BUFFER_BYTES });
  let current: PassThrough | undefined;
  const fail = (err: unknown) => {
    current?.destroy(err as Error);
    extract.destroy(err as Error);
  };
  unpacked.tar.on("error", fail);
  unpacked.done.catch(fail);
  const stop = () => fail(signal.reason);
  signal.addEventListener("abort", stop, { once: true });
  try {
    unpacked.tar.pipe(extract);
    for await (const [header, source, next] of on(extract, "entry", { close: ["finish"] })) {
      const { name, type } = header as { name: string; type?: string };
      const ended = new Promise<void>((resolve) => (source as Readable).once("end", resolve));
      if (type === "file") {
        // A stream of ours: tar-stream's own closes without an error when the extract is destroyed.
        current = new PassThrough({ highWaterMark: BUFFER_BYTES });
        (source as Readable).pipe(current);
        yield { name: basename(name), content: current };
        current = undefined;
      }
      (source as Readable).resume();
      await ended;
      (next as () => void)();
    }
    await unpacked.done;
  } finally {
    signal.removeEventListener("abort", stop);
    end();
  }
}

/**
 * restoreCache into the directory (the first path), then its files: where restores cannot stream. The
 * client answers a failed service like a miss after warning itself; its warning is how we know.
 */
async function fileRestore(
  paths: string[],
  key: string,
  restoreKeys: string[],
): Promise<RestoredEntry | undefined> {
  const dir = paths[0]!;
  // A fixed directory (the entry's version depends on it): nothing from an earlier run may pass as the entry's.
  rmSync(dir, { recursive: true, force: true });
  const failed = watchLog(/^::(warning|error)::Failed to restore/m);
  let matched: string | undefined;
  try {
    matched = await cache.restoreCache(paths, key, restoreKeys);
    if (failed()) throw new CacheUnavailable("the cache service failed");
  } finally {
    failed.stop();
  }
  if (!matched) return undefined;
  async function* files(): AsyncGenerator<CacheFile> {
    for (const name of readdirSync(dir))
      yield { name, content: createReadStream(join(dir, name), { highWaterMark: 1024 * 1024 }) };
  }
  return { key: matched, files: files() };
}

/** Sees whether `pattern` is written to stdout (where @actions/core writes its commands) until stopped. */
function watchLog(pattern: RegExp): (() => boolean) & { stop: () => void } {
  const write = process.stdout.write;
  let seen = false;
  process.stdout.write = function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]) {
    if (pattern.test(String(chunk))) seen = true;
    return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof process.stdout.write;
  const stop = () => {
    process.stdout.write = write;
  };
  return Object.assign(() => seen, { stop });
}

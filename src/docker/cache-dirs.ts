import { createHash } from "node:crypto";
import {
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
} from "node:fs";
import { arch, platform, tmpdir } from "node:os";
import { join } from "node:path";
import { Transform } from "node:stream";
import { finished } from "node:stream/promises";
import type Docker from "dockerode";
import type { PreviewConfig } from "../config/types.js";
import type { PreparedImage } from "../lifecycle/types.js";
import type { Logger } from "../log.js";
import type { PreviewLabels } from "./types.js";
import { type CacheVolume, ensureCacheVolumes, exportVolume, importVolume } from "./volumes.js";

/**
 * `cache-dirs`: what the app downloads at start-up (model weights…) kept between previews in named volumes.
 * On this machine the volumes themselves persist (the CLI); in the Action they are also restored from and
 * saved to the GitHub Actions cache through a CacheStore (@actions/cache). Nothing here fails a preview:
 * a cache problem is a warning and the app starts cold.
 */

/**
 * The Actions cache as @actions/cache offers it: restore returns the matched key (undefined: a miss), or
 * throws CacheUnavailable when the service failed and the client already warned; save throws or returns.
 */
export interface CacheStore {
  restore(paths: string[], key: string, restoreKeys: string[]): Promise<string | undefined>;
  save(paths: string[], key: string): Promise<unknown>;
}

/** Volume tars are read and written in 1 MiB pieces: hundreds of MB of weights in few chunks. */
const CHUNK_BYTES = 1024 * 1024;

/** GitHub's default cache budget per repository; ML_PREVIEW_CACHE_BUDGET_GB raises it for larger plans. */
export const DEFAULT_CACHE_BUDGET_BYTES = 10 * 1024 ** 3;

/** Files in the build context whose change means other dependencies, so another model set: a new key. */
const DEPENDENCY_FILE =
  /^(requirements.*\.txt|pyproject\.toml|setup\.(py|cfg)|Pipfile(\.lock)?|.*\.lock|environment\.ya?ml|package(-lock)?\.json)$/;

/**
 * The default key: app name, OS/arch, then a hash over cache-dirs, the Dockerfile and the dependency files at
 * the context's root (or the image reference) — it changes when the app's dependencies change. Restore keys
 * default to the prefix before the hash: a new key starts from the app's newest entry.
 */
export function defaultCacheKeys(config: PreviewConfig): { key: string; restoreKeys: string[] } {
  const prefix = `ml-preview-${config.name}-${platform()}-${arch()}-`;
  const hash = createHash("sha256").update(config.cacheDirs.paths.join("\n"));
  const source = config.source;
  if (source.kind === "build") {
    const files = [
      source.dockerfile,
      ...readdirSync(source.context)
        .filter((f) => DEPENDENCY_FILE.test(f))
        .sort(),
    ];
    for (const f of files) {
      const path = join(source.context, f);
      hash.update(`\n${f}\n`).update(existsSync(path) ? readFileSync(path) : "");
    }
  } else if (source.kind === "image") hash.update(`\n${source.image}`);
  return {
    key: config.cacheDirs.key ?? `${prefix}${hash.digest("hex").slice(0, 32)}`,
    restoreKeys: config.cacheDirs.key ? [...config.cacheDirs.restoreKeys] : [prefix],
  };
}

/** The cache service failed and its client said so: no second warning, and no save attempt this preview. */
export class CacheUnavailable extends Error {}

export interface CacheDirsDeps {
  readonly docker: Docker;
  readonly log: Logger;
  readonly labels: PreviewLabels;
  readonly store?: CacheStore;
  readonly budgetBytes?: number;
}

/** One preview's cache dirs: mounted before the app starts, saved once it is ready. */
export class CacheDirs {
  private volumes: CacheVolume[] = [];
  private restored: { key?: string; digests: Map<string, string> } = { digests: new Map() };
  private unavailable = false;
  /** The Actions cache entry being fetched (prefetch), and whether mount() or discard() has taken it. */
  private fetched?: Promise<string | undefined>;
  private consumed = false;
  private readonly keys: { key: string; restoreKeys: string[] };
  private readonly dir: string;

  constructor(
    private readonly config: PreviewConfig,
    private readonly deps: CacheDirsDeps,
  ) {
    this.keys = config.cacheDirs.paths.length > 0 ? defaultCacheKeys(config) : { key: "", restoreKeys: [] };
    // A fixed directory: @actions/cache versions an entry by the paths it was saved from.
    const scope = createHash("sha256").update(`${deps.labels["ml-preview.repo"]}\n${config.name}`);
    this.dir = join(tmpdir(), `ml-preview-cache-dirs-${scope.digest("hex").slice(0, 16)}`);
  }

  /**
   * Starts fetching the Actions cache entry (download and unpack; no image needed) while the image is built
   * or pulled, so the restore is mostly done when the app's container is about to start. mount() takes it
   * from there; discard() drops it when the preview ends before that.
   */
  prefetch(): void {
    if (this.config.cacheDirs.paths.length === 0 || !this.deps.store || this.fetched) return;
    this.fetched = this.fetch();
    this.fetched.catch(() => undefined); // mount() or discard() awaits it
  }

  /** The prefetched entry's files, when mount() never took them (the build failed, a cancel). */
  async discard(): Promise<void> {
    if (!this.fetched || this.consumed) return;
    this.consumed = true;
    await this.fetched.catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async fetch(): Promise<string | undefined> {
    rmSync(this.dir, { recursive: true, force: true });
    mkdirSync(this.dir, { recursive: true });
    // The client warns itself when the service fails, and answers a miss.
    return this.deps.store!.restore([this.dir], this.keys.key, this.keys.restoreKeys);
  }

  /** The volumes to mount, filled from the Actions cache where it has them; [] (and a warning) on trouble. */
  async mount(image: PreparedImage): Promise<CacheVolume[]> {
    const paths = this.config.cacheDirs.paths;
    if (paths.length === 0) return [];
    const { docker, labels, log } = this.deps;
    const scope = { repo: labels["ml-preview.repo"], name: this.config.name };
    try {
      this.volumes = await ensureCacheVolumes(docker, scope, paths);
    } catch (err) {
      log.warning(`${(err as Error).message} The app starts without cache-dirs.`);
      return [];
    }
    if (this.deps.store) await this.restore(image);
    return this.volumes;
  }

  private async restore(image: PreparedImage): Promise<void> {
    const { log } = this.deps;
    if (this.consumed) return; // discarded: the preview is ending
    this.consumed = true;
    try {
      const key = await (this.fetched ?? this.fetch());
      if (!key) return log.info(`cache-dirs: no cache entry for ${this.keys.key} yet; the app starts cold.`);
      // Hashing is on the app's critical path: only done when a save may follow and compare (the entry
      // matched a restore key, not the key itself; for the key itself there is nothing to save).
      const compare = key !== this.keys.key;
      let count = 0;
      for (const volume of this.volumes) {
        const file = this.tarOf(volume);
        if (!existsSync(file)) continue;
        const digest = compare ? new Digest() : undefined;
        const content = createReadStream(file, { highWaterMark: CHUNK_BYTES });
        await importVolume(
          this.deps.docker,
          this.transfer(image, volume),
          digest ? content.pipe(digest) : content,
        );
        if (digest) this.restored.digests.set(volume.path, digest.hex());
        count++;
      }
      this.restored.key = key;
      log.info(`cache-dirs: restored ${count} volume(s) from cache entry ${key}.`);
    } catch (err) {
      if (err instanceof CacheUnavailable) {
        this.unavailable = true;
        log.info("cache-dirs: the app starts cold, and this preview will not save (see the warning above).");
      } else
        log.warning(
          `cache-dirs: could not restore the cache (${(err as Error).message}); the app starts cold.`,
        );
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }

  /**
   * Saves the volumes under the key once the app is ready (start-up downloads are done then), unless the
   * entry exists, nothing changed, or they exceed the budget. Never throws.
   */
  async save(image: PreparedImage): Promise<void> {
    const { log, store } = this.deps;
    if (!store || this.volumes.length === 0 || this.unavailable) return;
    if (this.restored.key === this.keys.key)
      return log.info(`cache-dirs: cache entry ${this.keys.key} exists; nothing to save.`);
    const budget = this.deps.budgetBytes ?? DEFAULT_CACHE_BUDGET_BYTES;
    try {
      rmSync(this.dir, { recursive: true, force: true });
      mkdirSync(this.dir, { recursive: true });
      let used = 0;
      let changed = false;
      for (const volume of this.volumes) {
        // Only a volume that was restored is compared (and so hashed); any other is new content.
        const digest = this.restored.digests.has(volume.path) ? new Digest() : undefined;
        const out = createWriteStream(this.tarOf(volume), { highWaterMark: CHUNK_BYTES });
        const written = finished(digest ? digest.pipe(out) : out);
        // Awaited below; an over-budget export destroys the file, which must not become an unhandled rejection.
        written.catch(() => undefined);
        const result = await exportVolume(
          this.deps.docker,
          this.transfer(image, volume),
          digest ?? out,
          budget - used,
        );
        if (result.overBudget) {
          out.destroy();
          log.warning(
            `cache-dirs: the volumes hold more than ${gb(budget)}, the repository's cache budget; not saved. Cache a smaller directory, or raise ML_PREVIEW_CACHE_BUDGET_GB if your plan's budget is larger.`,
          );
          return;
        }
        await written;
        used += result.bytes;
        if (!digest || this.restored.digests.get(volume.path) !== digest.hex()) changed = true;
      }
      if (!changed) return log.info("cache-dirs: unchanged since the restored entry; nothing to save.");
      const id = await store.save([this.dir], this.keys.key);
      // @actions/cache answers -1 after warning itself (service down, another job saving the same key).
      if (id !== -1) log.info(`cache-dirs: saved ${mb(used)} as cache entry ${this.keys.key}.`);
    } catch (err) {
      log.warning(
        `cache-dirs: could not save the cache (${(err as Error).message}); the next preview starts cold.`,
      );
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }

  private tarOf(volume: CacheVolume): string {
    return join(this.dir, `${createHash("sha256").update(volume.path).digest("hex").slice(0, 16)}.tar`);
  }

  private transfer(image: PreparedImage, volume: CacheVolume) {
    return { imageId: image.imageId, volume, labels: this.deps.labels };
  }
}

/**
 * Passes a volume's tar through, hashing it: what was restored is compared with what would be saved. The
 * volume root's own entry ("./", first in the engine's archive) is hashed without its mtime and checksum:
 * extracting into the volume sets every time from the archive except the root's, which becomes the time of
 * the restore, so an untouched volume would otherwise never compare equal.
 */
export class Digest extends Transform {
  private readonly hash = createHash("sha256");
  /** The first header block while it is incomplete; undefined once hashed. */
  private head: Buffer | undefined = Buffer.alloc(0);
  private value?: string;

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: (e?: Error | null, c?: Buffer) => void) {
    if (this.head) {
      const needed = TAR_BLOCK - this.head.length;
      this.head = Buffer.concat([this.head, chunk.subarray(0, needed)]);
      if (this.head.length === TAR_BLOCK) {
        this.hash.update(withoutRootTime(this.head)).update(chunk.subarray(needed));
        this.head = undefined;
      }
    } else this.hash.update(chunk);
    done(null, chunk);
  }

  override _flush(done: (e?: Error | null) => void) {
    if (this.head) this.hash.update(this.head);
    this.head = undefined;
    done();
  }

  hex(): string {
    this.value ??= this.hash.digest("hex");
    return this.value;
  }
}

const TAR_BLOCK = 512;

/** A ustar header of "./" with its mtime (offset 136, 12 bytes) and checksum (148, 8) zeroed for hashing. */
function withoutRootTime(header: Buffer): Buffer {
  const name = header
    .subarray(0, 100)
    .toString("latin1")
    .replace(/\0[\s\S]*$/, "");
  if (name !== "./" && name !== ".") return header;
  const copy = Buffer.from(header);
  copy.fill(0, 136, 156);
  return copy;
}

const gb = (bytes: number) => (bytes >= 1024 ** 3 ? `${(bytes / 1024 ** 3).toFixed(1)} GB` : mb(bytes));
const mb = (bytes: number) => `${Math.round(bytes / 1024 ** 2)} MB`;

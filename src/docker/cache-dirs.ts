import { createHash } from "node:crypto";
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { arch, platform, tmpdir } from "node:os";
import { join } from "node:path";
import { type Readable, Transform } from "node:stream";
import { finished } from "node:stream/promises";
import type Docker from "dockerode";
import type { PreviewConfig } from "../config/types.js";
import type { Logger } from "../log.js";
import { BLOCK } from "./context-tar.js";
import { labelledPr, type PreviewLabels } from "./types.js";
import {
  type CacheVolume,
  emptyCacheVolumes,
  ensureCacheVolumes,
  exportVolume,
  importVolume,
  isRootEntry,
} from "./volumes.js";

/**
 * `cache-dirs`: what the app downloads at start-up (model weights…) kept between previews in named volumes.
 * On this machine the volumes themselves persist (the CLI); in the Action they are also restored from and
 * saved to the GitHub Actions cache through a CacheStore (@actions/cache). Nothing here fails a preview:
 * a cache problem is a warning and the app starts cold.
 */

/** One file of a cache entry as the entry is read: its content is read to the end before the next file. */
export interface CacheFile {
  readonly name: string;
  readonly content: Readable;
}

/** A cache entry found for the key or a restore key, read as it arrives. */
export interface RestoredEntry {
  readonly key: string;
  readonly sizeBytes?: number;
  readonly files: AsyncIterable<CacheFile>;
}

/**
 * The Actions cache (src/action/actions-cache.ts). restore answers the entry matched (undefined: a miss) or
 * throws CacheUnavailable when the service failed and the store already warned; `signal` stops the read.
 * save throws or returns.
 */
export interface CacheStore {
  restore(
    paths: string[],
    key: string,
    restoreKeys: string[],
    signal: AbortSignal,
  ): Promise<RestoredEntry | undefined>;
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
 *
 * A PR's keys start `ml-preview-pr<n>/<name>-`, and its restore keys are that prefix, then the branch prefix
 * (`ml-preview-<name>-`, the entries its base and the default branch saved). Restore keys match by prefix,
 * so the PR part comes first and ends in "/", which a name ([A-Za-z0-9._-]), the OS, the arch and the hash
 * never contain: no PR's prefix is a prefix of another PR's keys (`pr1/` is not one of `pr12/`), and the
 * branch prefix of no name is one of a PR's keys. A run then never restores another PR's entry, wherever a
 * cache scope would let it.
 */
export function defaultCacheKeys(config: PreviewConfig, pr?: number): { key: string; restoreKeys: string[] } {
  const branch = `ml-preview-${config.name}-${platform()}-${arch()}-`;
  const prefix = pr === undefined ? branch : `ml-preview-pr${pr}/${config.name}-${platform()}-${arch()}-`;
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
    restoreKeys: config.cacheDirs.key ? [...config.cacheDirs.restoreKeys] : [...new Set([prefix, branch])],
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
  /** Restore, never save: the run builds code that is not its ref's own (src/action/trust.ts says why). */
  readonly readOnly?: boolean;
}

/** One preview's cache dirs: mounted before the app starts, saved once it is ready. */
export class CacheDirs {
  private volumes: CacheVolume[] = [];
  private restored: { key?: string; digests: Map<string, string> } = { digests: new Map() };
  private unavailable = false;
  /** The volumes being created and filled (prefetch), and whether mount() has taken them. */
  private preparing?: Promise<CacheVolume[]>;
  private mounted = false;
  private readonly abort = new AbortController();
  private readonly keys: { key: string; restoreKeys: string[] };
  private readonly dir: string;

  constructor(
    private readonly config: PreviewConfig,
    private readonly deps: CacheDirsDeps,
  ) {
    this.keys =
      config.cacheDirs.paths.length > 0
        ? defaultCacheKeys(config, labelledPr(deps.labels))
        : { key: "", restoreKeys: [] };
    // A fixed directory: @actions/cache versions an entry by the paths it was saved from.
    const scope = createHash("sha256").update(`${deps.labels["ml-preview.repo"]}\n${config.name}`);
    this.dir = join(tmpdir(), `ml-preview-cache-dirs-${scope.digest("hex").slice(0, 16)}`);
  }

  /**
   * Starts creating the volumes and filling them from the Actions cache while the image is built or
   * pulled: the copy needs no app image (volumes.ts), so the restore is mostly done when the app's
   * container is about to start. mount() takes it from there; discard() stops it when the preview ends first.
   */
  prefetch(): void {
    if (this.config.cacheDirs.paths.length === 0 || this.preparing) return;
    this.preparing = this.prepare();
  }

  /** Stops a restore mount() never took (the build failed, a cancel); a copy cut short is emptied. */
  async discard(): Promise<void> {
    if (!this.preparing || this.mounted) return;
    this.mounted = true;
    this.abort.abort(new Error("the preview ended before the app started"));
    await this.preparing;
  }

  /** The volumes to mount, filled from the Actions cache where it has them; [] (and a warning) on trouble. */
  async mount(): Promise<CacheVolume[]> {
    if (this.config.cacheDirs.paths.length === 0) return [];
    this.mounted = true;
    this.preparing ??= this.prepare();
    return this.preparing;
  }

  private async prepare(): Promise<CacheVolume[]> {
    const { docker, labels, log } = this.deps;
    const scope = { repo: labels["ml-preview.repo"], name: this.config.name, pr: labelledPr(labels) };
    try {
      this.volumes = await ensureCacheVolumes(docker, scope, this.config.cacheDirs.paths);
    } catch (err) {
      log.warning(`${(err as Error).message} The app starts without cache-dirs.`);
      return [];
    }
    if (this.deps.store) await this.restore(this.deps.store);
    return this.volumes;
  }

  /** Never throws: a cache problem is a warning (or the store's own) and the app starts cold. */
  private async restore(store: CacheStore): Promise<void> {
    const { log, docker, labels } = this.deps;
    const signal = this.abort.signal;
    const started = Date.now();
    let copied = 0;
    let touched = false;
    try {
      const entry = await store.restore([this.dir], this.keys.key, this.keys.restoreKeys, signal);
      if (!entry)
        return log.info(`cache-dirs: no cache entry for ${this.keys.key} yet; the app starts cold.`);
      log.info(
        `cache-dirs: cache hit for ${entry.key}${entry.sizeBytes === undefined ? "" : ` (${mb(entry.sizeBytes)})`}; copying it into the volumes.`,
      );
      // Hashing is on the app's critical path: only done when a save may follow and compare (the entry
      // matched a restore key, not the key itself; for the key itself there is nothing to save; a read-only
      // run saves nothing).
      const compare = entry.key !== this.keys.key && !this.deps.readOnly;
      let count = 0;
      for await (const file of entry.files) {
        const volume = this.volumes.find((v) => fileOf(v) === file.name);
        if (!volume) {
          file.content.resume();
          continue;
        }
        const digest = compare ? new Digest() : undefined;
        if (digest) file.content.once("error", (err) => digest.destroy(err));
        touched = true;
        const content = digest ? file.content.pipe(digest) : file.content;
        copied += await importVolume(docker, { volume, labels }, content, signal);
        if (digest) this.restored.digests.set(volume.path, digest.hex());
        count++;
      }
      this.restored.key = entry.key;
      const seconds = (Date.now() - started) / 1000;
      log.info(
        `cache-dirs: restored ${count} volume(s) from cache entry ${entry.key} (${mb(copied)} in ${seconds.toFixed(1)} s).`,
      );
    } catch (err) {
      if (err instanceof CacheUnavailable) {
        this.unavailable = true;
        return log.info(
          "cache-dirs: the app starts cold, and this preview will not save (see the warning above).",
        );
      }
      // A copy cut short leaves part of the entry in the volumes: the app would start on half a model.
      if (touched) await this.empty();
      if (signal.aborted)
        log.info("cache-dirs: the restore stopped (the preview ended before the app started).");
      else
        log.warning(
          `cache-dirs: could not restore the cache (${(err as Error).message}); the app starts cold.`,
        );
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }

  private async empty(): Promise<void> {
    await emptyCacheVolumes(this.deps.docker, this.volumes).catch((err: unknown) => {
      this.deps.log.warning(`cache-dirs: ${(err as Error).message} The app starts without cache-dirs.`);
      this.volumes = [];
    });
  }

  /**
   * Saves the volumes under the key once the app is ready (start-up downloads are done then), unless the
   * entry exists, nothing changed, or they exceed the budget; never in a read-only run (which said so when
   * it connected). Never throws.
   */
  async save(): Promise<void> {
    const { log, store } = this.deps;
    if (!store || this.volumes.length === 0 || this.unavailable || this.deps.readOnly) return;
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
          { volume, labels: this.deps.labels },
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
    return join(this.dir, fileOf(volume));
  }
}

/** A volume's file in the cache entry: one tar per cache dir, named by its path. */
const fileOf = (volume: CacheVolume) =>
  `${createHash("sha256").update(volume.path).digest("hex").slice(0, 16)}.tar`;

/**
 * Passes a volume's tar through, hashing it: what was restored is compared with what would be saved. The
 * volume root's own entry ("./", first in the engine's archive) is hashed without its mtime and checksum:
 * the engine's extraction skips the root (importVolume puts it back afterwards, but where it cannot, the
 * root keeps the time of the restore), and an untouched volume must compare equal either way.
 */
export class Digest extends Transform {
  private readonly hash = createHash("sha256");
  /** The first header block while it is incomplete; undefined once hashed. */
  private head: Buffer | undefined = Buffer.alloc(0);
  private value?: string;

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: (e?: Error | null, c?: Buffer) => void) {
    if (this.head) {
      const needed = BLOCK - this.head.length;
      this.head = Buffer.concat([this.head, chunk.subarray(0, needed)]);
      if (this.head.length === BLOCK) {
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

/** A ustar header of "./" with its mtime (offset 136, 12 bytes) and checksum (148, 8) zeroed for hashing. */
function withoutRootTime(header: Buffer): Buffer {
  if (!isRootEntry(header)) return header;
  const copy = Buffer.from(header);
  copy.fill(0, 136, 156);
  return copy;
}

const gb = (bytes: number) => (bytes >= 1024 ** 3 ? `${(bytes / 1024 ** 3).toFixed(1)} GB` : mb(bytes));
const mb = (bytes: number) => `${Math.round(bytes / 1024 ** 2)} MB`;

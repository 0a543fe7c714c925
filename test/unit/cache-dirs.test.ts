import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { finished } from "node:stream/promises";
import type Docker from "dockerode";
import { describe, expect, it, vi } from "vitest";
import { asFlag, parseCliArgs } from "../../src/cli/args.js";
import { type ConfigErrors, parseConfig } from "../../src/config/parse.js";
import type { Inputs } from "../../src/config/types.js";
import { CacheDirs, Digest, defaultCacheKeys } from "../../src/docker/cache-dirs.js";
import { tarEnd, tarHeader, tarPadding } from "../../src/docker/context-tar.js";
import { warnIfLowOnDisk } from "../../src/docker/disk.js";
import type { Logger } from "../../src/log.js";

const workspace = mkdtempSync(join(tmpdir(), "cache-dirs-"));
writeFileSync(join(workspace, "Dockerfile"), "FROM python:3.12-slim\n");
writeFileSync(join(workspace, "requirements.txt"), "transformers==4.40.0\n");
writeFileSync(join(workspace, "app.py"), "print('hi')\n");

const parse = (inputs: Inputs) =>
  parseConfig({ "ngrok-authtoken": "2abcToken_xyz", ...inputs }, { workspace });

function errors(inputs: Inputs): ReadonlyArray<{ input: string; message: string; cli?: string }> {
  try {
    parse(inputs);
  } catch (err) {
    return (err as ConfigErrors).errors;
  }
  throw new Error(`expected ${JSON.stringify(inputs)} to be rejected`);
}

describe("cache-dirs inputs", () => {
  it("parses one container path per line, with key and restore keys", () => {
    const c = parse({
      "cache-dirs": "/root/.cache/huggingface\n\n/root/.cache/torch/\n",
      "cache-key": "models-v1",
      "cache-restore-keys": "models-\nml-",
    });
    expect(c.cacheDirs).toEqual({
      paths: ["/root/.cache/huggingface", "/root/.cache/torch/"],
      key: "models-v1",
      restoreKeys: ["models-", "ml-"],
    });
    expect(parse({}).cacheDirs).toEqual({ paths: [], key: undefined, restoreKeys: [] });
  });

  it.each([
    ["root/.cache", "not an absolute container path"],
    ["/", "whole container"],
    ["/data/../etc", "not a plain path"],
    ["/my models", "comma or whitespace"],
  ])("refuses cache-dirs entry %s with one error naming the input", (path, words) => {
    const [e, ...more] = errors({ "cache-dirs": path });
    expect(more).toEqual([]);
    expect(e!.input).toBe("cache-dirs");
    expect(e!.message).toMatch(/^cache-dirs: /);
    expect(e!.message).toContain(words);
    expect(asFlag(e!)).toMatch(/^--cache-dir: /);
  });

  it("refuses keys GitHub refuses, and keys without cache-dirs", () => {
    expect(errors({ "cache-dirs": "/c", "cache-key": "a,b" })[0]).toMatchObject({ input: "cache-key" });
    expect(errors({ "cache-dirs": "/c", "cache-restore-keys": "x".repeat(513) })[0]).toMatchObject({
      input: "cache-restore-keys",
    });
    expect(errors({ "cache-key": "k" })[0]!.message).toContain("cache-dirs is empty");
  });

  it("is --cache-dir (repeat) on the CLI, and down --volumes removes the volumes", () => {
    const args = parseCliArgs(["up", "--cache-dir", "/a", "--cache-dir", "/b"]);
    expect(args.command === "up" && args.inputs["cache-dirs"]).toBe("/a\n/b");
    expect(parseCliArgs(["down", "tips", "--volumes"])).toEqual({
      command: "down",
      names: ["tips"],
      all: false,
      volumes: true,
    });
    expect(parseCliArgs(["down"])).toMatchObject({ volumes: false });
  });
});

describe("the default cache key", () => {
  it("changes with the dependencies and cache-dirs, not with the app's code; restores the app's newest", () => {
    const first = defaultCacheKeys(parse({ "cache-dirs": "/root/.cache/huggingface", name: "demo" }));
    expect(first.key).toMatch(
      new RegExp(`^ml-preview-demo-${process.platform}-${process.arch}-[0-9a-f]{32}$`),
    );
    expect(first.restoreKeys).toEqual([`ml-preview-demo-${process.platform}-${process.arch}-`]);

    writeFileSync(join(workspace, "app.py"), "print('changed')\n");
    const sameDeps = defaultCacheKeys(parse({ "cache-dirs": "/root/.cache/huggingface", name: "demo" }));
    expect(sameDeps.key).toBe(first.key);

    writeFileSync(join(workspace, "requirements.txt"), "transformers==4.41.0\n");
    const newDeps = defaultCacheKeys(parse({ "cache-dirs": "/root/.cache/huggingface", name: "demo" }));
    expect(newDeps.key).not.toBe(first.key);

    const otherDirs = defaultCacheKeys(parse({ "cache-dirs": "/root/.cache/torch", name: "demo" }));
    expect(otherDirs.key).not.toBe(newDeps.key);
  });

  it("puts a PR's number first: its own entries, then the branch's (its base's, the default branch's)", () => {
    const config = parse({ "cache-dirs": "/root/.cache/huggingface", name: "demo" });
    const branch = defaultCacheKeys(config);
    const pr = defaultCacheKeys(config, 12);
    const tail = `${process.platform}-${process.arch}-`;
    expect(pr.key).toBe(`ml-preview-pr12/demo-${tail}${branch.key.slice(-32)}`);
    expect(pr.restoreKeys).toEqual([`ml-preview-pr12/demo-${tail}`, `ml-preview-demo-${tail}`]);
    expect(branch.restoreKeys).toEqual([`ml-preview-demo-${tail}`]);
  });

  it("never lets a restore key match another PR's entry, or a branch's restore key match a PR's, whatever the names", () => {
    // Names as the name input allows them ([A-Za-z0-9._-]), chosen to look like the PR part.
    const names = ["app", "pr1", "pr12", "pr12-app", "pr1-2", "1", "12", "pr", "p", "app-linux", "a.b_c"];
    const prs = [undefined, 1, 2, 12, 120, 21];
    const runs = names.flatMap((name) =>
      prs.map((pr) => ({ name, pr, ...defaultCacheKeys(parse({ "cache-dirs": "/m", name }), pr) })),
    );
    for (const reader of runs)
      for (const writer of runs) {
        if (writer.pr === undefined || writer.pr === reader.pr) continue;
        // A PR's entry is found by no other PR's restore keys and by no branch run's.
        const hit = reader.restoreKeys.find((k) => writer.key.startsWith(k));
        expect(hit, `${reader.name}#${reader.pr} would restore ${writer.key}`).toBeUndefined();
      }
  });

  it("is the cache-key input when given, with its restore keys", () => {
    const keys = defaultCacheKeys(
      parse({ "cache-dirs": "/c", "cache-key": "mine", "cache-restore-keys": "min" }),
    );
    expect(keys).toEqual({ key: "mine", restoreKeys: ["min"] });
  });
});

describe("warnIfLowOnDisk", () => {
  const docker = { info: async () => ({ DockerRootDir: tmpdir() }) } as unknown as Docker;
  const logged = () => {
    const warnings: string[] = [];
    const log = { warning: (m: string) => warnings.push(m) } as unknown as Logger;
    return { warnings, log };
  };

  it("warns with the runner's fix when the data root has less than the step needs", async () => {
    const { warnings, log } = logged();
    // A pull of a registry-reported 1 PB image: more than any disk here has.
    await warnIfLowOnDisk(docker, { kind: "pull", compressedBytes: 1e15 }, "pull", "Pulling x:1", log, {});
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain("Pulling x:1 needs about");
    expect(warnings[0]).toContain("larger runner");
  });

  it("says nothing when there is room, or when the engine is remote", async () => {
    const { warnings, log } = logged();
    await warnIfLowOnDisk(docker, { kind: "pull", compressedBytes: 1 }, "pull", "Pulling x:1", log, {});
    await warnIfLowOnDisk(docker, { kind: "pull", compressedBytes: 1e15 }, "pull", "Pulling x:1", log, {
      DOCKER_HOST: "tcp://10.0.0.5:2376",
    });
    expect(warnings).toEqual([]);
  });
});

describe("Digest (what a save compares with what was restored)", () => {
  const volumeTar = (rootMtime: number, content: string) => {
    const body = Buffer.from(content);
    return Buffer.concat([
      tarHeader({ name: "./", type: "directory", mode: 0o755, size: 0, mtime: rootMtime }),
      tarHeader({ name: "./model.bin", type: "file", mode: 0o644, size: body.length, mtime: 1_700_000_000 }),
      body,
      tarPadding(body.length),
      tarEnd(),
    ]);
  };
  const digestOf = async (tar: Buffer, chunk = tar.length) => {
    const digest = new Digest();
    const passed: Buffer[] = [];
    digest.on("data", (c: Buffer) => passed.push(c));
    for (let i = 0; i < tar.length; i += chunk) digest.write(tar.subarray(i, i + chunk));
    digest.end();
    await finished(digest);
    expect(Buffer.concat(passed).equals(tar)).toBe(true); // the bytes pass through untouched
    return digest.hex();
  };

  it("ignores the volume root's mtime (a restore sets it to the restore's time), in any chunking", async () => {
    const restored = await digestOf(volumeTar(1_700_000_000, "weights"));
    expect(await digestOf(volumeTar(1_800_000_000, "weights"))).toBe(restored);
    expect(await digestOf(volumeTar(1_800_000_000, "weights"), 100)).toBe(restored);
    expect(await digestOf(volumeTar(1_800_000_000, "weights"), 7)).toBe(restored);
  });

  it("sees a changed file", async () => {
    expect(await digestOf(volumeTar(1_700_000_000, "weights-2"))).not.toBe(
      await digestOf(volumeTar(1_700_000_000, "weights")),
    );
  });
});

describe("CacheDirs.prefetch", () => {
  const quiet: Logger = { info() {}, debug() {}, warning() {}, group: (_t, fn) => fn() };
  const labels = {
    "ml-preview.repo": "o/r",
    "ml-preview.pr": "1",
    "ml-preview.run": "1.1",
    "ml-preview.name": "p",
  };

  it("starts the restore once, before the image exists; discard() stops it and empties no volume it never copied into", async () => {
    const asked: { paths: string[]; signal: AbortSignal }[] = [];
    const volumeCalls: string[] = [];
    const store = {
      restore(paths: string[], _key: string, _restoreKeys: string[], signal: AbortSignal) {
        asked.push({ paths, signal });
        return new Promise<never>((_resolve, reject) =>
          signal.addEventListener("abort", () => reject(signal.reason), { once: true }),
        );
      },
      async save() {},
    };
    // Only volume creation and removal are reachable before a copy starts; anything else would throw.
    const engine = {
      createVolume: async (opts: { Name: string }) => void volumeCalls.push(`create ${opts.Name}`),
      getVolume: (name: string) => ({ remove: async () => void volumeCalls.push(`remove ${name}`) }),
    };
    const dirs = new CacheDirs(parse({ "cache-dirs": "/models", name: "prefetch" }), {
      docker: engine as unknown as Docker,
      log: quiet,
      labels,
      store,
    });
    dirs.prefetch();
    dirs.prefetch(); // once only
    await vi.waitFor(() => expect(asked).toHaveLength(1));
    expect(volumeCalls).toEqual([expect.stringMatching(/^create ml-preview-cache-pr1-prefetch-/)]);
    await dirs.discard();
    expect(asked[0]!.signal.aborted).toBe(true);
    expect(volumeCalls).toHaveLength(1); // nothing was copied: nothing to empty
    expect(existsSync(asked[0]!.paths[0]!)).toBe(false);
  });
});

describe("CacheDirs.save in a read-only run", () => {
  const labels = {
    "ml-preview.repo": "o/r",
    "ml-preview.pr": "12",
    "ml-preview.run": "1.1",
    "ml-preview.name": "p",
  };

  it.each([
    [true, []],
    [false, ["export"]],
  ])("readOnly %s: restores with the PR's keys; saves only when not read-only", async (readOnly, touched) => {
    const restoreKeys: string[][] = [];
    const engineCalls: string[] = [];
    const store = {
      async restore(_paths: string[], _key: string, keys: string[]) {
        restoreKeys.push(keys);
        return undefined; // a miss: the app starts cold, a save would follow
      },
      save: async () => {
        throw new Error("a read-only run saved");
      },
    };
    const volumes: string[] = [];
    const engine = {
      createVolume: async (opts: { Name: string }) => void volumes.push(opts.Name),
      // exportVolume's first call (the transfer container's image). Failing it ends the save with a warning.
      getImage: () => {
        engineCalls.push("export");
        throw new Error("no engine here");
      },
    };
    const warnings: string[] = [];
    const log: Logger = {
      info() {},
      debug() {},
      warning: (m) => void warnings.push(m),
      group: (_t, fn) => fn(),
    };
    const dirs = new CacheDirs(parse({ "cache-dirs": "/models", name: "ro" }), {
      docker: engine as unknown as Docker,
      log,
      labels,
      store,
      readOnly,
    });
    expect(await dirs.mount()).toHaveLength(1);
    // The PR's own volume (an engine that outlives the job keeps it) and the PR's keys first.
    expect(volumes).toEqual([expect.stringMatching(/^ml-preview-cache-pr12-ro-/)]);
    expect(restoreKeys[0]![0]).toMatch(/^ml-preview-pr12\/ro-/);
    await dirs.save();
    expect(engineCalls).toEqual(touched);
    expect(warnings.some((w) => w.includes("a read-only run saved"))).toBe(false);
  });
});

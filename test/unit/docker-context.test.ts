import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createContextStream } from "../../src/docker/context.js";
import { PreviewError } from "../../src/errors.js";
import { tarEntries } from "../support/context-capture.js";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "ml-preview-ctxunit-"));
  dirs.push(root);
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, name)), { recursive: true });
    writeFileSync(join(root, name), content);
  }
  return root;
}

/** Every tar entry the context stream produced, plus the bytes counted by the stream itself. */
async function packed(root: string, dockerfile = "Dockerfile") {
  const ctx = await createContextStream(root, dockerfile);
  const chunks: Buffer[] = [];
  for await (const chunk of ctx.stream as AsyncIterable<Buffer>) chunks.push(chunk);
  const tar = Buffer.concat(chunks);
  const entries = tarEntries(tar).map((e) => ({
    ...e,
    name: e.name.replace(/\/$/, ""),
    type: TYPES[e.type],
  }));
  return { entries, names: entries.map((e) => e.name).sort(), bytes: tar.length, ctx };
}

const TYPES: Record<string, string> = {
  "0": "file",
  "1": "link",
  "2": "symlink",
  "5": "directory",
  "6": "fifo",
};

describe("createContextStream", () => {
  it("sends what .dockerignore keeps, with exceptions, and never the excluded directories themselves", async () => {
    const root = tree({
      Dockerfile: "FROM scratch\n",
      ".dockerignore":
        "*.log\n!keep.log\ndata\n!data/keep.txt\nnode_modules\nDockerfile\n.dockerignore\n**/*.pyc\n",
      "app.py": "print(1)\n",
      "a.log": "x",
      "keep.log": "x",
      "data/big.bin": "x".repeat(1000),
      "data/keep.txt": "k",
      "data/nested/more.bin": "m",
      "node_modules/pkg/index.js": "x",
      "src/mod.py": "x",
      "src/mod.pyc": "x",
      "src/sub/a.log": "nested logs are not matched by *.log",
    });
    const { names, entries } = await packed(root);
    expect(names).toEqual([
      ".dockerignore",
      "Dockerfile",
      "app.py",
      "data/keep.txt",
      "keep.log",
      "src",
      "src/mod.py",
      "src/sub",
      "src/sub/a.log",
    ]);
    expect(entries.every((e) => e.uid === 0 && e.gid === 0)).toBe(true);
  });

  it("keeps a Dockerfile that lives in an excluded folder, and nothing else from it", async () => {
    const root = tree({
      "docker/Dockerfile.dev": "FROM scratch\n",
      "docker/secret.env": "TOKEN=1",
      ".dockerignore": "docker\n",
      "app.py": "x",
    });
    const { names } = await packed(root, "docker/Dockerfile.dev");
    expect(names).toEqual([".dockerignore", "app.py", "docker/Dockerfile.dev"]);
  });

  it("sends symlinks as symlinks and counts every byte it hands out", async () => {
    const root = tree({ Dockerfile: "FROM scratch\n", "payload.bin": "p".repeat(300_000) });
    symlinkSync("payload.bin", join(root, "link"));
    const { entries, bytes, ctx } = await packed(root);
    expect(entries.find((e) => e.name === "link")?.type).toBe("symlink");
    expect(bytes).toBeGreaterThan(300_000);
    expect(ctx.sentBytes()).toBe(bytes);
    expect(ctx.sentEntries()).toBe(3);
  });

  it("leaves an ignored large file out of the bytes sent", async () => {
    const big = "z".repeat(5_000_000);
    const withIgnore = await packed(
      tree({ Dockerfile: "FROM scratch\n", "model.bin": big, ".dockerignore": "*.bin" }),
    );
    const without = await packed(tree({ Dockerfile: "FROM scratch\n", "model.bin": big }));
    expect(withIgnore.bytes).toBeLessThan(20_000);
    expect(without.bytes).toBeGreaterThan(5_000_000);
  });

  it("reads a large file in 1 MiB pieces (a weights file is a handful of chunks, not hundreds), bytes intact", async () => {
    const weights = randomBytes(8 << 20);
    const root = tree({ Dockerfile: "FROM scratch\n" });
    writeFileSync(join(root, "weights.bin"), weights);
    const ctx = await createContextStream(root, "Dockerfile");
    const chunks: Buffer[] = [];
    for await (const chunk of ctx.stream as AsyncIterable<Buffer>) chunks.push(chunk);
    // fs's default 64 KiB reads would give at least 128 chunks for the 8 MiB file.
    expect(chunks.length).toBeLessThan(32);
    const tar = Buffer.concat(chunks);
    const at = tar.indexOf(weights.subarray(0, 64));
    expect(at).toBeGreaterThan(0);
    expect(tar.subarray(at, at + weights.length).equals(weights)).toBe(true);
  });

  it("says what to fix when the Dockerfile is missing or outside the context", async () => {
    const root = tree({ "app.py": "x" });
    await expect(createContextStream(root, "Dockerfile")).rejects.toThrow(
      /No Dockerfile at .*\/Dockerfile\. Set `dockerfile`/,
    );
    await expect(createContextStream(root, "../Dockerfile")).rejects.toThrow(/outside the build context/);
    await expect(createContextStream(join(root, "nope"), "Dockerfile")).rejects.toBeInstanceOf(PreviewError);
  });
});

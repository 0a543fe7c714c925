import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { contextReadPool, readLargeFile, readSmallFile } from "../../src/docker/context-fs.js";

const dir = mkdtempSync(join(tmpdir(), "ml-preview-ctxfs-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function pieces(path: string, size: number): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const chunk of readLargeFile(path, size, contextReadPool())) out.push(chunk);
  return out;
}

describe("reading the build context's files", () => {
  it("reads a small file whole", () => {
    const path = join(dir, "app.py");
    writeFileSync(path, "print('hello')\n");
    expect(readSmallFile(path, 15).toString()).toBe("print('hello')\n");
  });

  it("reads a large file in 1 MiB pieces", async () => {
    const path = join(dir, "weights.bin");
    const bytes = randomBytes(3 << 20);
    writeFileSync(path, bytes);
    const read = await pieces(path, bytes.length);
    expect(read.map((c) => c.length)).toEqual([1 << 20, 1 << 20, 1 << 20]);
    expect(Buffer.concat(read).equals(bytes)).toBe(true);
  });

  it("never reuses a buffer a reader still holds: 20 MiB read without releasing stays intact", async () => {
    const pool = contextReadPool();
    const files = [0, 1, 2, 3].map((i) => {
      const path = join(dir, `part-${i}.bin`);
      const bytes = randomBytes(5 << 20);
      writeFileSync(path, bytes);
      return { path, bytes };
    });
    const held: Buffer[][] = [];
    for (const f of files) {
      const out: Buffer[] = [];
      for await (const chunk of readLargeFile(f.path, f.bytes.length, pool)) out.push(chunk);
      held.push(out);
    }
    for (const [i, f] of files.entries()) expect(Buffer.concat(held[i]!).equals(f.bytes)).toBe(true);
  });

  it("closes a large file when the reader stops early (a cancelled build)", async () => {
    const path = join(dir, "cancel.bin");
    writeFileSync(path, randomBytes(4 << 20));
    const openFds = () => readdirSync("/proc/self/fd").length;
    const before = openFds();
    for await (const _ of readLargeFile(path, 4 << 20, contextReadPool())) break;
    expect(openFds()).toBe(before);
  });

  it("fails on a file that shrank below the size its header promised, small or large", async () => {
    const path = join(dir, "shrunk.bin");
    writeFileSync(path, randomBytes(1 << 20));
    expect(() => readSmallFile(path, 2000_000)).toThrow(/shrank from 2000000 to 1048576 bytes/);
    await expect(pieces(path, 3 << 20)).rejects.toThrow(/shrank from 3145728 to 1048576 bytes/);
  });

  it("fails at once, never blocks, on a path that became a FIFO after the walk", async () => {
    const path = join(dir, "became-fifo");
    execFileSync("mkfifo", [path]);
    expect(() => readSmallFile(path, 10)).toThrow(/no longer a regular file/);
    await expect(pieces(path, 3 << 20)).rejects.toThrow(/no longer a regular file/);
  });

  it("reports a file that is gone", async () => {
    expect(() => readSmallFile(join(dir, "gone.py"), 9)).toThrow(/ENOENT/);
    await expect(pieces(join(dir, "gone.bin"), 3 << 20)).rejects.toThrow(/ENOENT/);
  });
});

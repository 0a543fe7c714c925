import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync, type Stats, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { contextReadPool, contextFs as makeContextFs } from "../../src/docker/context-fs.js";

const dir = mkdtempSync(join(tmpdir(), "ml-preview-ctxfs-"));
const contextFs = makeContextFs(contextReadPool());
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function chunks(stream: NodeJS.ReadableStream): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) out.push(chunk);
  return out;
}

describe("contextFs (what tar-fs reads the build context through)", () => {
  it("reads a small file whole, exactly the range asked for", async () => {
    const path = join(dir, "app.py");
    writeFileSync(path, "print('hello')\n");
    const read = await chunks(contextFs.createReadStream(path, { start: 0, end: 14 }));
    expect(Buffer.concat(read).toString()).toBe("print('hello')\n");
    expect(read).toHaveLength(1);
  });

  it("reads an empty file as no bytes (tar-fs asks for 0..0)", async () => {
    const path = join(dir, "empty");
    writeFileSync(path, "");
    expect(Buffer.concat(await chunks(contextFs.createReadStream(path, { start: 0, end: 0 })))).toHaveLength(
      0,
    );
  });

  it("reads a large file in 1 MiB pieces", async () => {
    const path = join(dir, "weights.bin");
    const bytes = randomBytes(3 << 20);
    writeFileSync(path, bytes);
    const read = await chunks(contextFs.createReadStream(path, { start: 0, end: bytes.length - 1 }));
    expect(read.map((c) => c.length)).toEqual([1 << 20, 1 << 20, 1 << 20]);
    expect(Buffer.concat(read).equals(bytes)).toBe(true);
  });

  it("never reuses a buffer a reader still holds: 20 MiB read without releasing stays intact", async () => {
    const files = [0, 1, 2, 3].map((i) => {
      const path = join(dir, `part-${i}.bin`);
      const bytes = randomBytes(5 << 20);
      writeFileSync(path, bytes);
      return { path, bytes };
    });
    const held: Buffer[][] = [];
    for (const f of files)
      held.push(await chunks(contextFs.createReadStream(f.path, { start: 0, end: f.bytes.length - 1 })));
    for (const [i, f] of files.entries()) expect(Buffer.concat(held[i]!).equals(f.bytes)).toBe(true);
  });

  it("closes a large file destroyed mid-read (a cancelled build) without an error, after the read", async () => {
    const path = join(dir, "cancel.bin");
    writeFileSync(path, randomBytes(4 << 20));
    const openFds = () => readdirSync("/proc/self/fd").length;
    const before = openFds();
    const stream = contextFs.createReadStream(path, { start: 0, end: (4 << 20) - 1 });
    const errors: Error[] = [];
    stream.on("error", (e) => errors.push(e));
    stream.read(0); // starts the first read
    stream.destroy();
    await new Promise<void>((resolve) => stream.once("close", () => resolve()));
    expect(errors).toEqual([]);
    expect(openFds()).toBe(before);
  });

  it("reads a large file that cannot be opened as a stream error", async () => {
    const stream = contextFs.createReadStream(join(dir, "gone.bin"), { start: 0, end: (4 << 20) - 1 });
    const error = await new Promise<NodeJS.ErrnoException>((resolve) => {
      stream.on("error", resolve);
      stream.resume();
    });
    expect(error.code).toBe("ENOENT");
  });

  it("reports a file that cannot be read as a stream error, never a throw at creation", async () => {
    const stream = contextFs.createReadStream(join(dir, "gone.py"), { start: 0, end: 9 });
    const error = await new Promise<NodeJS.ErrnoException>((resolve) => {
      stream.on("error", resolve);
      stream.resume();
    });
    expect(error.code).toBe("ENOENT");
  });

  it("answers lstat and readdir on a later turn, errors as the callback's first argument", async () => {
    const order: string[] = [];
    const stat = new Promise<Stats>((resolve, reject) =>
      contextFs.lstat(join(dir, "app.py"), (err, s) => {
        order.push("lstat");
        if (err) reject(err);
        else resolve(s);
      }),
    );
    order.push("after call");
    expect((await stat).isFile()).toBe(true);
    expect(order).toEqual(["after call", "lstat"]);
    const missing = await new Promise<NodeJS.ErrnoException | null>((resolve) =>
      contextFs.readdir(join(dir, "nope"), (err) => resolve(err)),
    );
    expect(missing?.code).toBe("ENOENT");
    const names = await new Promise<string[]>((resolve, reject) =>
      contextFs.readdir(dir, (err, files) => (err ? reject(err) : resolve(files as string[]))),
    );
    expect(names).toContain("app.py");
  });
});

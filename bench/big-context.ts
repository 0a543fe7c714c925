import { randomBytes } from "node:crypto";
import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "./temp.js";

const MB = 1 << 20;

/**
 * A 1 GB build context shaped like an ML repo, half of it ignored:
 *   model/weights-NN.bin  50 × 10 MB  sent
 *   src/file-NNNN.py      1000 × 1 KB sent (per-file overhead)
 *   model/snap-NN.ckpt    25 × 10 MB  ignored by a pattern (`**\/*.ckpt`): skipped file by file
 *   data/                 250 × 1 MB  ignored as a directory: never walked
 * Real bytes (no sparse files): one random 1 MB block written over and over, each file stamped apart.
 */
export function createBigContext(): { dir: string; sentBytes: number; ignoredBytes: number } {
  const dir = tempDir("1g");
  const block = randomBytes(MB);
  let stamp = 0;
  const write = (path: string, mb: number) => {
    const fd = openSync(path, "w");
    try {
      for (let i = 0; i < mb; i++) {
        block.writeUInt32BE(++stamp, 0);
        writeSync(fd, block);
      }
    } finally {
      closeSync(fd);
    }
  };
  writeFileSync(join(dir, "Dockerfile"), "FROM scratch\nCOPY small /\n");
  writeFileSync(join(dir, "small"), "a small file\n");
  writeFileSync(join(dir, ".dockerignore"), "data\n**/*.ckpt\n");
  for (const sub of ["model", "src", "data"]) mkdirSync(join(dir, sub));
  const pad = (n: number, width: number) => String(n).padStart(width, "0");
  for (let i = 0; i < 50; i++) write(join(dir, "model", `weights-${pad(i, 2)}.bin`), 10);
  for (let i = 0; i < 25; i++) write(join(dir, "model", `snap-${pad(i, 2)}.ckpt`), 10);
  for (let i = 0; i < 250; i++) write(join(dir, "data", `part-${pad(i, 3)}.bin`), 1);
  const source = block.subarray(0, 1024).toString("base64").slice(0, 1024);
  for (let i = 0; i < 1000; i++) writeFileSync(join(dir, "src", `file-${pad(i, 4)}.py`), source);
  return { dir, sentBytes: 500 * MB + 1000 * 1024, ignoredBytes: 500 * MB };
}

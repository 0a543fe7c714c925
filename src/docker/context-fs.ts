import * as fs from "node:fs";
import { open } from "node:fs/promises";
import { BufferPool } from "./buffer-pool.js";

/**
 * How the build context's file contents are read, tuned for what ML repos hold: a few large files
 * (weights, checkpoints) and many small ones (sources, configs).
 *
 * - Large files are read in 1 MiB pieces, not fs's 64 KiB: each piece costs a trip through the tar
 *   stream, the upload stage and the chunked HTTP request, so bigger pieces cut the upload's CPU by
 *   30–50 %. The pieces are read into `pool`'s buffers, which the upload gives back (see BufferPool).
 * - Small files are read synchronously, whole. Through fs's async API every one of them is a round trip
 *   to libuv's thread pool (~0.15 ms of thread hand-offs), far more than the read itself from the page
 *   cache: 1000 source files took ~0.6 s that way, ~0.25 s like this.
 * - Files are opened O_NONBLOCK and checked to still be regular files: a path swapped for a FIFO after
 *   the walk must fail, not block the build forever on open().
 *
 * Memory stays flat: POOLED_CHUNKS buffers of READ_CHUNK bytes, a few more in flight when the consumer
 * holds on to them, and small files of at most SMALL_FILE bytes.
 */
const READ_CHUNK = 1 << 20;
const POOLED_CHUNKS = 8;
export const SMALL_FILE = 256 << 10;
const OPEN_FLAGS = fs.constants.O_RDONLY | fs.constants.O_NONBLOCK;

export function contextReadPool(): BufferPool {
  return new BufferPool(READ_CHUNK, POOLED_CHUNKS);
}

/** A file that is no longer what the walk saw: the tar header already promised `size` bytes. */
export class ContextChanged extends Error {}

/** A small file whole (`size` bytes, as its header says), read synchronously (see above). */
export function readSmallFile(path: string, size: number): Buffer {
  const fd = fs.openSync(path, OPEN_FLAGS);
  try {
    // No fstat here (it costs as much as the read): a FIFO swapped in reads as empty or EAGAIN and fails.
    const buffer = Buffer.allocUnsafe(size);
    let filled = 0;
    while (filled < size) {
      const n = readSync(fd, buffer, filled, size - filled);
      if (n === 0) throw new ContextChanged(`it shrank from ${size} to ${filled} bytes while being sent`);
      filled += n;
    }
    return buffer;
  } finally {
    fs.closeSync(fd);
  }
}

/** A positioned read; a FIFO (no position) answers ESPIPE, reported as a file that is no longer regular. */
function readSync(fd: number, buffer: Buffer, offset: number, length: number): number {
  try {
    return fs.readSync(fd, buffer, offset, length, offset);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ESPIPE" || code === "EAGAIN") throw new ContextChanged("it is no longer a regular file");
    throw err;
  }
}

/** A large file's first `size` bytes in READ_CHUNK pieces read into the pool's buffers. */
export async function* readLargeFile(path: string, size: number, pool: BufferPool): AsyncGenerator<Buffer> {
  const file = await open(path, OPEN_FLAGS);
  try {
    if (!(await file.stat()).isFile()) throw new ContextChanged("it is no longer a regular file");
    let position = 0;
    while (position < size) {
      const buffer = pool.take();
      let n: number;
      try {
        ({ bytesRead: n } = await file.read(buffer, 0, Math.min(buffer.length, size - position), position));
      } catch (err) {
        pool.release(buffer);
        throw err;
      }
      if (n === 0) {
        pool.release(buffer);
        throw new ContextChanged(`it shrank from ${size} to ${position} bytes while being sent`);
      }
      position += n;
      yield buffer.subarray(0, n);
    }
  } finally {
    await file.close();
  }
}

/**
 * Read buffers for the build context, reused once the engine's socket has taken their bytes.
 *
 * Why: every fresh read buffer counts as V8 external memory, and each ~24 MB of it forces a full garbage
 * collection. A 500 MB context meant ~20 full GCs and ~0.6 s more CPU than reusing a handful of buffers,
 * on the cores the engine needs to unpack that context (bench/README.md).
 *
 * Safety: a buffer comes back only through `release`, which the upload calls from the socket write's
 * callback, when nothing reads those bytes any more. A consumer that never releases (a test reading the
 * stream, a failed write) simply leaves the pool empty, and `take` hands out fresh buffers.
 */
export class BufferPool {
  private readonly free: Buffer[] = [];
  /** Pooled buffers handed out and not yet given back, by their memory. */
  private readonly lent = new Map<ArrayBufferLike, Buffer>();
  private created = 0;
  /** Buffers allocated in all, pooled or not: fewer than taken means buffers were reused. */
  allocated = 0;

  constructor(
    readonly chunkSize: number,
    private readonly capacity: number,
  ) {}

  /** A buffer of `chunkSize` bytes: a free pooled one, a new pooled one, or past capacity a fresh one. */
  take(): Buffer {
    let buffer = this.free.pop();
    if (!buffer) {
      // Slow: its own memory, not a slice of Node's shared pool, so `release` can tell it apart.
      buffer = Buffer.allocUnsafeSlow(this.chunkSize);
      this.allocated++;
      if (this.created >= this.capacity) return buffer;
      this.created++;
    }
    this.lent.set(buffer.buffer, buffer);
    return buffer;
  }

  /** Gives back the pooled buffer that `chunk` is a view of; anything else is left to the GC. */
  release(chunk: Buffer): void {
    const buffer = this.lent.get(chunk.buffer);
    if (!buffer) return;
    this.lent.delete(chunk.buffer);
    this.free.push(buffer);
  }
}

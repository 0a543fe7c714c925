import { ClientRequest } from "node:http";
import { Transform, type TransformCallback } from "node:stream";
import type { BufferPool } from "./buffer-pool.js";

/**
 * The last stage of the build context: counts the bytes, and hands the pooled read buffers back once
 * the engine request has sent them.
 *
 * docker-modem sends a request body with `body.pipe(request)`. Stream pipes write without a callback, so
 * nothing would say when a chunk's memory is free again; this pipe writes each chunk with one, which an
 * http request calls once the socket has written the bytes to the kernel. Only then is the buffer reused.
 * Any other destination (a test reading the tar, say) gets the plain pipe and no buffer is reused.
 */
export class ContextUpload extends Transform {
  private bytes = 0;

  constructor(private readonly pool: BufferPool) {
    super();
  }

  sentBytes(): number {
    return this.bytes;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    done(null, chunk);
  }

  override pipe<T extends NodeJS.WritableStream>(destination: T, options?: { end?: boolean }): T {
    if (!(destination instanceof ClientRequest)) return super.pipe(destination, options);
    const request: ClientRequest = destination;
    let waiting = false;
    const write = (chunk: Buffer) => {
      const more = request.write(chunk, (err) => {
        if (!err) this.pool.release(chunk);
      });
      if (more || waiting) return;
      // Backpressure as in stream.pipe: stop reading until the request has sent what it holds.
      waiting = true;
      this.pause();
      request.once("drain", () => {
        waiting = false;
        this.resume();
      });
    };
    const stop = () => {
      this.off("data", write);
      this.pause();
    };
    this.on("data", write);
    this.once("end", () => {
      if (options?.end !== false) request.end();
    });
    request.once("close", stop);
    request.once("error", stop);
    return destination;
  }
}

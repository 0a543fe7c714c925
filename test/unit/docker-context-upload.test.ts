import { createHash, randomBytes } from "node:crypto";
import { createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { BufferPool } from "../../src/docker/buffer-pool.js";
import { ContextUpload } from "../../src/docker/context-upload.js";

const CHUNK = 256 << 10;

/** 48 chunks of random bytes, each read into a buffer of `pool` as the context reader does. */
function pooledSource(pool: BufferPool, data: Buffer): Readable {
  let offset = 0;
  return new Readable({
    read() {
      if (offset >= data.length) return void this.push(null);
      const buffer = pool.take();
      const n = data.copy(buffer, 0, offset, offset + CHUNK);
      offset += n;
      // Like a file read: the bytes arrive later, on another turn.
      setImmediate(() => this.push(buffer.subarray(0, n)));
    },
  });
}

/** A server that reads the body slowly (so the upload meets backpressure) and answers with its sha256. */
async function slowHashServer() {
  const server = createServer((req, res) => {
    const hash = createHash("sha256");
    req.on("data", (chunk: Buffer) => {
      hash.update(chunk);
      req.pause();
      setTimeout(() => req.resume(), 1);
    });
    req.on("end", () => res.end(hash.digest("hex")));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

function post(port: number, body: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method: "POST", path: "/build" }, (res) => {
      let text = "";
      res.on("data", (d) => (text += d));
      res.on("end", () => resolve(text));
    });
    req.on("error", reject);
    body.pipe(req);
  });
}

describe("ContextUpload", () => {
  it("reuses read buffers only after the request sent them: the server gets every byte intact", async () => {
    const data = randomBytes(48 * CHUNK);
    const pool = new BufferPool(CHUNK, 4);
    const upload = new ContextUpload(pool);
    pooledSource(pool, data).pipe(upload);
    const { server, port } = await slowHashServer();
    try {
      const received = await post(port, upload);
      expect(received).toBe(createHash("sha256").update(data).digest("hex"));
      expect(upload.sentBytes()).toBe(data.length);
      // 48 chunks read through far fewer buffers: they were given back and reused.
      expect(pool.allocated).toBeLessThan(24);
    } finally {
      server.close();
    }
  });

  it("gives nothing back to a destination that is not an engine request (it may keep the chunks)", async () => {
    const data = randomBytes(16 * CHUNK);
    const pool = new BufferPool(CHUNK, 4);
    const upload = new ContextUpload(pool);
    pooledSource(pool, data).pipe(upload);
    const kept: Buffer[] = [];
    for await (const chunk of upload as AsyncIterable<Buffer>) kept.push(chunk);
    expect(Buffer.concat(kept).equals(data)).toBe(true);
    expect(pool.allocated).toBe(16);
  });
});

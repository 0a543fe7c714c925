import { createHash, randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer } from "ws";

/** A small local app to put behind a tunnel in tests: plain routes, a big body, an upload hash, WebSocket echo. */
export interface EchoApp {
  readonly port: number;
  /** Requests the app has served (WebSocket upgrades not counted). */
  readonly requests: number;
  /** The exact bytes GET /big returns. */
  readonly bigBody: Buffer;
  close(): Promise<void>;
}

export async function startEchoApp(bigBytes = 5 * 1024 * 1024): Promise<EchoApp> {
  const bigBody = randomBytes(bigBytes);
  let requests = 0;
  const server = createServer((req, res) => {
    requests++;
    const url = new URL(req.url ?? "/", "http://app");
    if (url.pathname === "/big") {
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": bigBody.length });
      res.end(bigBody);
      return;
    }
    if (url.pathname === "/sha256" && req.method === "POST") {
      const hash = createHash("sha256");
      let size = 0;
      req.on("data", (chunk: Buffer) => {
        size += chunk.length;
        hash.update(chunk);
      });
      req.on("end", () => res.end(JSON.stringify({ size, sha256: hash.digest("hex") })));
      return;
    }
    // A little jitter so concurrent answers interleave on the tunnel.
    setTimeout(() => res.end(`hello ${url.pathname}`), Math.floor(Math.random() * 20));
  });
  const sockets = new WebSocketServer({ server });
  sockets.on("connection", (ws) => ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary })));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    get requests() {
      return requests;
    },
    bigBody,
    close: async () => {
      for (const ws of sockets.clients) ws.terminate();
      sockets.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

import { createServer as createHttpServer, type Server } from "node:http";
import { type AddressInfo, createServer as createTcpServer, type Server as TcpServer } from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import { httpStrategy, probeHttp } from "../../src/docker/readiness/http.js";
import type { ReadinessContext } from "../../src/docker/readiness/types.js";
import { freePort } from "../support/ports.js";

const servers: (Server | TcpServer)[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function listen<T extends Server | TcpServer>(server: T, port = 0): Promise<number> {
  servers.push(server);
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  return (server.address() as AddressInfo).port;
}

function httpServer(status: number, delayMs = 0): Server {
  return createHttpServer((_req, res) => {
    setTimeout(() => res.writeHead(status, { location: "/login" }).end("body"), delayMs);
  });
}

/** What Docker's userland proxy does when nothing listens inside: accept, then drop the connection. */
function proxyWithNothingBehind(): TcpServer {
  return createTcpServer((socket) => socket.resetAndDestroy());
}

function probe(port: number, path = "/", timeoutMs = 500) {
  const notes: string[] = [];
  const outcome = probeHttp(
    new URL(path, `http://127.0.0.1:${port}`),
    timeoutMs,
    new AbortController().signal,
    {
      note: (t) => notes.push(t),
    },
  );
  return outcome.then((o) => ({ outcome: o, notes }));
}

describe("probeHttp", () => {
  it.each([200, 204, 302])("counts %i as ready", async (status) => {
    const port = await listen(httpServer(status));
    expect((await probe(port)).outcome).toBe("ready");
  });

  it.each([404, 500, 503])("counts %i as up-but-not-ready and says so", async (status) => {
    const port = await listen(httpServer(status));
    const { outcome, notes } = await probe(port, "/_stcore/health");
    expect(outcome).toBe("up");
    expect(notes.at(-1)).toBe(`GET /_stcore/health answered ${status}`);
  });

  it("counts an accepted-then-reset connection (Docker's proxy, nothing inside) as down", async () => {
    const port = await listen(proxyWithNothingBehind());
    const { outcome, notes } = await probe(port);
    expect(outcome).toBe("down");
    expect(notes.at(-1)).toMatch(/nothing answers/);
  });

  it("counts a refused connection as down", async () => {
    expect((await probe(await freePort())).outcome).toBe("down");
  });

  it("gives up on one attempt after its timeout", async () => {
    // Never answers: only the probe's own 150 ms timeout ends this within the test's.
    const port = await listen(createHttpServer(() => undefined));
    const { outcome, notes } = await probe(port, "/", 150);
    expect(outcome).toBe("up");
    expect(notes.at(-1)).toMatch(/did not answer within 150 ms/);
  });
});

describe("httpStrategy", () => {
  it("notices an app that starts answering later", async () => {
    const port = await freePort();
    const controller = new AbortController();
    const looks: string[] = [];
    const ctx: ReadinessContext = {
      signal: controller.signal,
      onNudge: () => () => undefined,
      note: (text) => looks.push(text),
    };
    const ready = httpStrategy({ baseUrl: `http://127.0.0.1:${port}`, path: "/health" }).until(ctx);
    // Into the capped interval: the looks so far found nothing (how soon it notices is bench's readiness row).
    await vi.waitFor(() => expect(looks.length).toBeGreaterThanOrEqual(12), { timeout: 10_000 });
    const proxy = createHttpServer((req, res) => res.writeHead(req.url === "/health" ? 200 : 404).end());
    await listen(proxy, port);
    await ready;
  });
});

import { type AddressInfo, createServer, type Server } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { probeTcp, TCP_CONFIRM_MS } from "../../src/docker/readiness/tcp.js";

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function listen(server: Server): Promise<number> {
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return (server.address() as AddressInfo).port;
}

function probe(port: number, confirmMs?: number) {
  const notes: string[] = [];
  return probeTcp({ host: "127.0.0.1", port, confirmMs }, new AbortController().signal, {
    note: (t) => notes.push(t),
  }).then((outcome) => ({ outcome, notes }));
}

describe("probeTcp", () => {
  it("is not fooled by a proxy that accepts and then resets (Docker's userland proxy)", async () => {
    const port = await listen(createServer((s) => s.resetAndDestroy()));
    expect((await probe(port)).outcome).toBe("down");
  });

  it("is not fooled by a proxy that accepts, tries its backend for a while, then closes", async () => {
    const port = await listen(createServer((s) => setTimeout(() => s.end(), 20)));
    const { outcome, notes } = await probe(port);
    expect(outcome).toBe("down");
    expect(notes.at(-1)).toMatch(/accepts but closes/);
  });

  it("counts a connection that stays open as ready", async () => {
    const port = await listen(createServer(() => undefined));
    const t0 = performance.now();
    expect((await probe(port)).outcome).toBe("ready");
    expect(performance.now() - t0).toBeGreaterThanOrEqual(TCP_CONFIRM_MS - 5);
  });

  it("counts a server that speaks first as ready at once", async () => {
    const port = await listen(createServer((s) => s.write("SSH-2.0-hello\r\n")));
    // An hour's confirmation: only the server's first words end this within the test's own timeout.
    expect((await probe(port, 3_600_000)).outcome).toBe("ready");
  });

  it("counts a refused connection as down", async () => {
    const port = await listen(createServer());
    await new Promise((r) => servers.pop()!.close(r));
    expect((await probe(port)).outcome).toBe("down");
  });
});

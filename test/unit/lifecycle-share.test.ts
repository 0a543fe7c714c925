import { createServer, type Server } from "node:http";
import { type AddressInfo, createServer as createTcpServer } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { PreviewError } from "../../src/errors.js";
import { waitForLocalApp } from "../../src/lifecycle/share.js";
import { silentLogger } from "../../src/log.js";
import { freePort } from "../support/ports.js";

const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

describe("waitForLocalApp (share)", () => {
  it("returns once something answers, whatever the status", async () => {
    const server = createServer((_req, res) => {
      res.statusCode = 404;
      res.end();
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const { port } = server.address() as AddressInfo;
    await expect(
      waitForLocalApp(`http://127.0.0.1:${port}`, 2000, new AbortController().signal),
    ).resolves.toBeUndefined();
  });

  it("names the URL and what to do when nothing answers in time", async () => {
    const port = await freePort();
    const err = await waitForLocalApp(`http://127.0.0.1:${port}`, 300, new AbortController().signal).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PreviewError);
    expect((err as Error).message).toContain(`Nothing listens on port ${port} on this machine`);
    expect((err as Error).message).toContain("Start your app first");
  });

  it("gives up on a refusing port in seconds, not after the ready timeout", async () => {
    const port = await freePort();
    const lines: string[] = [];
    const log = { ...silentLogger, info: (m: string) => lines.push(m) };
    const err = await waitForLocalApp(
      `http://127.0.0.1:${port}`,
      300_000,
      new AbortController().signal,
      log,
    ).catch((e: unknown) => e);
    expect((err as PreviewError).code).toBe("NOTHING_LISTENS");
    expect(lines[0]).toBe(`Waiting for your app to answer at http://127.0.0.1:${port}…`);
    // The ready timeout is 5 min: only the refused-port rule can end this within the test's 8 s.
  }, 8000);

  it("ends at once when its signal aborts, even between slow probes", async () => {
    // Accepts and drops every connection: no answer ever, and not "refused" (which gives up on its own).
    const dropping = createTcpServer((socket) => socket.resetAndDestroy());
    await new Promise<void>((r) => dropping.listen(0, "127.0.0.1", r));
    const { port } = dropping.address() as AddressInfo;
    const controller = new AbortController();
    let aborted!: () => void;
    const abortedNow = new Promise<void>((r) => (aborted = r));
    // The first progress line (after 5 s, the back-off long at its 500 ms steps) comes just before a sleep:
    // abort right there.
    const log = {
      ...silentLogger,
      info: (m: string) => {
        if (!m.startsWith("… still waiting")) return;
        controller.abort(new Error("tunnel failed"));
        aborted();
      },
    };
    const settled = waitForLocalApp(`http://127.0.0.1:${port}`, 60_000, controller.signal, log).then(
      () => "resolved",
      (err: Error) => err.message,
    );
    await abortedNow;
    // Settled before the event loop's next turn: without the signal in the back-off sleep, it waited for
    // the sleep's timer (the 500 ms step).
    const nextTurn = new Promise<string>((r) => setImmediate(() => r("still waiting")));
    expect(await Promise.race([settled, nextTurn])).toBe("tunnel failed");
    await new Promise((r) => dropping.close(r));
  }, 30_000);
});

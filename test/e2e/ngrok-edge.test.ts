/**
 * The loopback ngrok edge, driven by the real @ngrok/ngrok SDK: if these pass, tests elsewhere can trust the
 * edge to behave like ngrok's ingress for the parts ml-preview relies on.
 */
import { createHash } from "node:crypto";
import ngrok, { type Config } from "@ngrok/ngrok";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { type EchoApp, startEchoApp } from "../support/ngrok-edge/echo-app.js";
import { type NgrokEdge, startNgrokEdge } from "../support/ngrok-edge/index.js";

const TOKEN = "edge-test-token";

let edge: NgrokEdge;
let app: EchoApp;

beforeEach(async () => {
  edge = await startNgrokEdge({ authtoken: TOKEN });
  app = await startEchoApp();
});

afterEach(async () => {
  // forward() keeps one process-wide session: kill() drops it so the next test starts clean.
  await ngrok.kill();
  await edge.close();
  await app.close();
});

/** forward() options that reach the loopback edge. */
function viaEdge(extra: Config = {}): Config {
  return {
    addr: `127.0.0.1:${app.port}`,
    authtoken: TOKEN,
    server_addr: edge.serverAddr,
    session_ca_cert: edge.caCert,
    ...extra,
  };
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 8_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function sdkError(promise: Promise<unknown>): Promise<{ message: string; errorCode?: string }> {
  try {
    await promise;
  } catch (err) {
    return err as { message: string; errorCode?: string };
  }
  throw new Error("expected the SDK call to fail");
}

describe("loopback ngrok edge with the real SDK", () => {
  it("binds an HTTP endpoint whose URL reaches the app through the tunnel", async () => {
    const listener = await ngrok.forward(viaEdge({ forwards_to: "ml-preview app", metadata: "pr-7" }));
    const url = listener.url()!;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    const res = await fetch(`${url}/hello`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("hello /hello");
    expect(app.requests).toBe(1);

    expect(edge.sessions()).toBe(1);
    expect(edge.activeListeners()).toBe(1);
    expect(edge.authAttempts).toEqual([{ authtoken: TOKEN, ok: true }]);
    expect(edge.binds).toHaveLength(1);
    expect(edge.binds[0]).toMatchObject({
      id: listener.id(),
      url,
      forwardsTo: "ml-preview app",
      metadata: "pr-7",
    });
  });

  it("carries 50 concurrent requests, each to its own answer", async () => {
    const url = (await ngrok.forward(viaEdge())).url()!;
    const bodies = await Promise.all(
      Array.from({ length: 50 }, (_, i) => fetch(`${url}/n/${i}`).then((r) => r.text())),
    );
    expect(bodies).toEqual(Array.from({ length: 50 }, (_, i) => `hello /n/${i}`));
    expect(app.requests).toBe(50);
  });

  it("moves 5 MB each way intact under muxado flow control", async () => {
    const url = (await ngrok.forward(viaEdge())).url()!;
    const down = Buffer.from(await (await fetch(`${url}/big`)).arrayBuffer());
    expect(down.length).toBe(app.bigBody.length);
    expect(sha256(down)).toBe(sha256(app.bigBody));

    const up = await fetch(`${url}/sha256`, { method: "POST", body: new Uint8Array(app.bigBody) });
    expect(await up.json()).toEqual({ size: app.bigBody.length, sha256: sha256(app.bigBody) });
  });

  it("passes a WebSocket upgrade through and echoes text and binary frames", async () => {
    const url = (await ngrok.forward(viaEdge())).url()!;
    const ws = new WebSocket(`${url.replace(/^http/, "ws")}/socket`);
    const received: string[] = [];
    await new Promise<void>((resolve, reject) => {
      ws.on("error", reject);
      ws.on("open", () => ws.send("ping over the tunnel"));
      ws.on("message", (data: Buffer, isBinary) => {
        received.push(isBinary ? `binary:${sha256(data)}` : data.toString());
        if (received.length === 1) ws.send(app.bigBody.subarray(0, 300_000));
        else resolve();
      });
    });
    ws.close();
    expect(received).toEqual(["ping over the tunnel", `binary:${sha256(app.bigBody.subarray(0, 300_000))}`]);
  });

  it("answers 502 itself when the app behind the tunnel is down", async () => {
    const url = (await ngrok.forward(viaEdge())).url()!;
    await app.close();
    const res = await fetch(`${url}/`);
    expect(res.status).toBe(502);
    app = await startEchoApp(1); // afterEach closes it again
  });

  it("rejects a wrong authtoken with ERR_NGROK_105 and a missing one with ERR_NGROK_4018", async () => {
    const wrong = await sdkError(ngrok.forward(viaEdge({ authtoken: "not-the-token" })));
    expect(wrong.errorCode).toBe("ERR_NGROK_105");
    expect(wrong.message).toContain("The authtoken you specified is not valid.");

    const empty = await sdkError(ngrok.forward(viaEdge({ authtoken: "" })));
    expect(empty.errorCode).toBe("ERR_NGROK_4018");

    expect(edge.authAttempts).toEqual([
      { authtoken: "not-the-token", ok: false },
      { authtoken: "", ok: false },
    ]);
    expect(edge.sessions()).toBe(0);
  });

  it("refuses a bind as told (endpoint already online) and lets the next one through", async () => {
    edge.failNextBinds("ERR_NGROK_334", "The endpoint 'https://x.ngrok-free.app' is already online.");
    const refused = await sdkError(ngrok.forward(viaEdge()));
    expect(refused.errorCode).toBe("ERR_NGROK_334");
    expect(refused.message).toContain("is already online");
    expect(edge.activeListeners()).toBe(0);

    const listener = await ngrok.forward(viaEdge());
    expect((await fetch(`${listener.url()}/again`)).status).toBe(200);
    expect(edge.binds.map((b) => b.url)).toEqual(["", listener.url()]);
  });

  it("records the traffic policy sent with the bind", async () => {
    const policy = JSON.stringify({
      on_http_request: [{ actions: [{ type: "deny", config: { status_code: 403 } }] }],
    });
    await ngrok.forward(viaEdge({ traffic_policy: policy }));
    expect(edge.binds[0]?.trafficPolicy).toBe(policy);
    expect(edge.binds[0]?.proto).toBe("https");
  });

  it("sees the SDK reconnect and re-bind on the same URL after the connection drops", async () => {
    const statuses: string[] = [];
    const listener = await ngrok.forward(viaEdge({ onStatusChange: (s: string) => statuses.push(s) }));
    const url = listener.url()!;
    const port = new URL(url).port;

    edge.dropSessions();
    expect(edge.sessions()).toBe(0);
    expect(edge.activeListeners()).toBe(0);

    await waitFor("re-bind", () => edge.binds.length === 2 && edge.activeListeners() === 1);
    await waitFor("status callbacks", () => statuses.length === 3);
    expect(edge.binds[1]).toMatchObject({ id: listener.id(), url });
    expect(new URL(edge.binds[1]!.url).port).toBe(port);
    expect(edge.sessions()).toBe(1);
    expect(listener.url()).toBe(url);
    expect(await (await fetch(`${url}/back`)).text()).toBe("hello /back");
    expect(statuses).toEqual(["connected", "closed", "connected"]);
  });

  it("keeps the URL dead while it refuses reconnects, then the SDK's backoff brings it back", async () => {
    const statuses: string[] = [];
    const url = (await ngrok.forward(viaEdge({ onStatusChange: (s: string) => statuses.push(s) }))).url()!;
    edge.dropSessions({ refuseForMs: 1_000 });
    await expect(fetch(`${url}/`)).rejects.toThrow();
    await waitFor("reconnect after refusal", () => edge.sessions() === 1 && edge.activeListeners() === 1);
    expect(statuses.filter((s) => s === "closed").length).toBeGreaterThan(1);
    expect(statuses.at(-1)).toBe("connected");
    expect((await fetch(`${url}/`)).status).toBe(200);
  });

  it("listener.close() unbinds but keeps the session; ngrok.disconnect() ends it", async () => {
    const listener = await ngrok.forward(viaEdge());
    await listener.close();
    expect(edge.activeListeners()).toBe(0);
    await new Promise((r) => setTimeout(r, 500));
    expect(edge.sessions()).toBe(1);

    await ngrok.disconnect();
    await waitFor("session end", () => edge.sessions() === 0);
    // The SDK does not come back on its own once the session was closed on purpose.
    await new Promise((r) => setTimeout(r, 500));
    expect(edge.sessions()).toBe(0);
  });

  it("Session.close() from the builder API ends the session; handleDisconnection sees drops", async () => {
    const drops: string[] = [];
    const session = await new ngrok.SessionBuilder()
      .authtoken(TOKEN)
      .serverAddr(edge.serverAddr)
      .caCert(Buffer.from(edge.caCert))
      .handleDisconnection((_addr, error) => {
        drops.push(error);
        return true;
      })
      .connect();
    const listener = await session
      .httpEndpoint()
      .forwardsTo("builder app")
      .listenAndForward(`http://127.0.0.1:${app.port}`);
    expect((await fetch(`${listener.url()}/b`)).status).toBe(200);

    edge.dropSessions();
    await waitFor("reconnect", () => edge.sessions() === 1 && edge.activeListeners() === 1);
    expect(drops).toEqual(["transport error"]);
    // The SDK swaps in the new session only after re-binding: a close() in that instant fails with
    // "failed to open muxado stream". Traffic through the URL proves the swap is done.
    expect((await fetch(`${listener.url()}/b`)).status).toBe(200);

    await listener.close();
    expect(edge.activeListeners()).toBe(0);
    await session.close();
    await waitFor("session end", () => edge.sessions() === 0);
  });
});

function sha256(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

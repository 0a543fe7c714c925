/**
 * The loopback ngrok edge, driven by the real @ngrok/ngrok SDK: if these pass, tests elsewhere can trust the
 * edge to behave like ngrok's ingress for the parts ml-preview relies on.
 */
import { createHash } from "node:crypto";
import ngrok, { type Config } from "@ngrok/ngrok";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { type EchoApp, startEchoApp } from "../support/ngrok-edge/echo-app.js";
import { type NgrokEdge, OAUTH_TEST_EMAIL_HEADER, startNgrokEdge } from "../support/ngrok-edge/index.js";

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

  it("answers ngrok's offline page while it refuses reconnects, then the SDK's backoff brings it back", async () => {
    const statuses: string[] = [];
    const url = (await ngrok.forward(viaEdge({ onStatusChange: (s: string) => statuses.push(s) }))).url()!;
    edge.dropSessions({ refuseForMs: 1_000 });
    const offline = await fetch(`${url}/`);
    expect(offline.status).toBe(404);
    expect(offline.headers.get("ngrok-error-code")).toBe("ERR_NGROK_3200");
    expect(await offline.text()).toContain("ERR_NGROK_3200");
    await waitFor("reconnect after refusal", () => edge.sessions() === 1 && edge.activeListeners() === 1);
    expect(statuses.filter((s) => s === "closed").length).toBeGreaterThan(1);
    expect(statuses.at(-1)).toBe("connected");
    expect((await fetch(`${url}/`)).status).toBe(200);
  });

  it("listener.close() unbinds but keeps the session; ngrok.disconnect() ends it", async () => {
    const listener = await ngrok.forward(viaEdge());
    await listener.close();
    expect(edge.activeListeners()).toBe(0);
    expect(edge.sessions()).toBe(1);
    // The session is still there: the next forward() binds on it without authenticating again.
    const auths = edge.authAttempts.length;
    const again = await ngrok.forward(viaEdge());
    expect(edge.authAttempts.length).toBe(auths);
    await again.close();

    // A witness session that does come back after drops (the SDK's default), beside the one closed on purpose.
    const witness = await new ngrok.SessionBuilder()
      .authtoken(TOKEN)
      .serverAddr(edge.serverAddr)
      .caCert(Buffer.from(edge.caCert))
      .connect();
    await ngrok.disconnect();
    await waitFor("session end", () => edge.sessions() === 1);
    // The SDK does not come back on its own once the session was closed on purpose: every connection is cut
    // twice, and each time only the witness comes back.
    for (let cut = 1; cut <= 2; cut++) {
      const before = edge.authAttempts.length;
      edge.dropSessions();
      await waitFor("the witness back", () => edge.authAttempts.length > before && edge.sessions() === 1);
      expect(edge.authAttempts.length).toBe(before + 1);
    }
    // The witness only proves the point above; now it goes. close() while the SDK is still settling the
    // reconnect it just made can fail ("transport error"), or succeed while that reconnect still lands (both
    // seen under load): whenever the last close() has settled and the edge still holds a session, close again.
    let settling = false;
    await waitFor(
      "witness end",
      () => {
        if (edge.sessions() === 0) return true;
        if (!settling) {
          settling = true;
          void witness
            .close()
            .catch(() => undefined)
            .finally(() => {
              settling = false;
            });
        }
        return false;
      },
      30_000,
    );
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

/** A one-rule policy around the given actions (and expressions). */
const policyOf = (actions: unknown[], expressions?: string[], phase = "on_http_request") =>
  JSON.stringify({ [phase]: [{ ...(expressions ? { expressions } : {}), actions }] });

describe("traffic policies: refused at bind as ngrok refuses them", () => {
  const refusals: [string, string, string][] = [
    [
      "two auth actions on one endpoint",
      JSON.stringify({
        on_http_request: [
          { actions: [{ type: "basic-auth", config: { credentials: ["a:password1"] } }] },
          { actions: [{ type: "oauth", config: { provider: "google" } }] },
        ],
      }),
      "ERR_NGROK_2239",
    ],
    ["an unknown action type", policyOf([{ type: "teleport" }]), "ERR_NGROK_2201"],
    [
      "an action in a phase it does not support",
      policyOf(
        [{ type: "basic-auth", config: { credentials: ["a:password1"] } }],
        undefined,
        "on_tcp_connect",
      ),
      "ERR_NGROK_2202",
    ],
    ["an unknown config key", policyOf([{ type: "deny", config: { status: 403 } }]), "ERR_NGROK_2203"],
    [
      "an unknown phase",
      JSON.stringify({ inbound_http: [{ actions: [{ type: "deny" }] }] }),
      "ERR_NGROK_2230",
    ],
    ["a rule without actions", JSON.stringify({ on_http_request: [{ actions: [] }] }), "ERR_NGROK_2206"],
    ["a CEL syntax error", policyOf([{ type: "deny" }], ["req.method =="]), "ERR_NGROK_2200"],
    [
      "a variable ngrok does not have",
      policyOf([{ type: "deny" }], ["request.method == 'GET'"]),
      "ERR_NGROK_2200",
    ],
    [
      "amazon without a client id and secret",
      policyOf([{ type: "oauth", config: { provider: "amazon" } }]),
      "ERR_NGROK_1633",
    ],
    [
      "a short basic-auth password",
      policyOf([{ type: "basic-auth", config: { credentials: ["a:short"] } }]),
      "ERR_NGROK_2237",
    ],
    [
      "a control character in a password",
      policyOf([{ type: "basic-auth", config: { credentials: ["a:pass\tword1"] } }]),
      "ERR_NGROK_2258",
    ],
    [
      "a bad CIDR",
      policyOf([{ type: "restrict-ips", config: { enforce: true, allow: ["10.0.0.300/8"] } }]),
      "ERR_NGROK_2217",
    ],
  ];

  it.each(refusals)("%s", async (_what, traffic_policy, code) => {
    const err = await sdkError(ngrok.forward(viaEdge({ traffic_policy })));
    expect(`${err.errorCode ?? ""} ${err.message}`).toContain(code);
    expect(edge.activeListeners()).toBe(0);
  });

  it("a comprehension's own variable is not an unknown one", async () => {
    const traffic_policy = policyOf(
      [{ type: "deny" }],
      ["type(req.method) == string && req.headers.exists(h, h == 'x-block')"],
    );
    const url = (await ngrok.forward(viaEdge({ traffic_policy }))).url()!;
    expect((await fetch(`${url}/`, { headers: { "x-block": "1" } })).status).toBe(403);
    expect((await fetch(`${url}/`)).status).toBe(200);
  });
});

describe("traffic policies: enforced on visitors", () => {
  it("deny and custom-response run when their CEL expressions match the request", async () => {
    const traffic_policy = JSON.stringify({
      on_http_request: [
        {
          expressions: ["req.method == 'DELETE'", "conn.client_ip == '127.0.0.1'"],
          actions: [{ type: "deny", config: { status_code: 405 } }],
        },
        { expressions: ["conn.client_ip != '127.0.0.1'"], actions: [{ type: "deny" }] },
        {
          expressions: ["req.url.path.startsWith('/teapot')"],
          actions: [
            {
              type: "custom-response",
              config: { status_code: 418, body: "short and stout", headers: { "x-kind": "teapot" } },
            },
          ],
        },
      ],
    });
    const url = (await ngrok.forward(viaEdge({ traffic_policy }))).url()!;
    expect((await fetch(`${url}/x`, { method: "DELETE" })).status).toBe(405);
    const teapot = await fetch(`${url}/teapot/1`);
    expect(teapot.status).toBe(418);
    expect(teapot.headers.get("x-kind")).toBe("teapot");
    expect(await teapot.text()).toBe("short and stout");
    expect(await (await fetch(`${url}/else`)).text()).toBe("hello /else");
    expect(app.requests).toBe(1);
  });

  it("a basic-auth password with ${…} is an expression to ngrok, not the literal text", async () => {
    const traffic_policy = policyOf([
      { type: "basic-auth", config: { credentials: ["ada:pass${'wor'}d-1"] } },
    ]);
    const url = (await ngrok.forward(viaEdge({ traffic_policy }))).url()!;
    const as = (creds: string) => ({ authorization: `Basic ${Buffer.from(creds).toString("base64")}` });
    expect((await fetch(url, { headers: as("ada:pass${'wor'}d-1") })).status).toBe(401);
    expect((await fetch(url, { headers: as("ada:password-1") })).status).toBe(200);
  });

  it("the test-only OAuth identity never reaches the app", async () => {
    const seen: (string | undefined)[] = [];
    const { createServer } = await import("node:http");
    const spy = createServer((req, res) => {
      seen.push(req.headers[OAUTH_TEST_EMAIL_HEADER] as string | undefined);
      res.end("ok");
    });
    await new Promise<void>((r) => spy.listen(0, "127.0.0.1", r));
    try {
      const traffic_policy = policyOf([{ type: "oauth", config: { provider: "github" } }]);
      const addr = `127.0.0.1:${(spy.address() as { port: number }).port}`;
      const url = (await ngrok.forward(viaEdge({ addr, traffic_policy }))).url()!;
      expect((await fetch(url, { headers: { [OAUTH_TEST_EMAIL_HEADER]: "a@b.co" } })).status).toBe(200);
      expect(seen).toEqual([undefined]);
    } finally {
      spy.close();
    }
  });

  it("a second request pipelined behind an authorised one never reaches the app", async () => {
    const traffic_policy = policyOf([{ type: "basic-auth", config: { credentials: ["ada:password-1"] } }]);
    const url = new URL((await ngrok.forward(viaEdge({ traffic_policy }))).url()!);
    const { connect } = await import("node:net");
    const socket = connect(Number(url.port), url.hostname);
    const auth = Buffer.from("ada:password-1").toString("base64");
    socket.write(
      `GET /first HTTP/1.1\r\nHost: x\r\nAuthorization: Basic ${auth}\r\n\r\n` +
        "GET /second HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    let answer = "";
    socket.on("data", (d: Buffer) => {
      answer += d.toString();
    });
    await new Promise((resolve) => socket.on("close", resolve));
    expect(answer).toContain("hello /first");
    expect(answer).not.toContain("hello /second");
    expect(app.requests).toBe(1);
  });

  it("answers ngrok's account pages on demand (quota, credit), then the app again", async () => {
    const url = (await ngrok.forward(viaEdge())).url()!;
    edge.answerVisitorsWith(4026);
    const page = await fetch(url);
    expect(page.headers.get("ngrok-error-code")).toBe("ERR_NGROK_4026");
    expect(app.requests).toBe(0);
    edge.answerVisitorsWith(undefined);
    expect((await fetch(url)).status).toBe(200);
  });

  it("an unbound endpoint's URL answers ngrok's offline page", async () => {
    const listener = await ngrok.forward(viaEdge());
    const url = listener.url()!;
    await listener.close();
    const res = await fetch(url);
    expect(res.status).toBe(404);
    expect(res.headers.get("ngrok-error-code")).toBe("ERR_NGROK_3200");
  });
});

describe("plan modes", () => {
  const sixRules = JSON.stringify({
    on_http_request: Array.from({ length: 6 }, (_, i) => ({
      expressions: [`req.url.path == '/r${i}'`],
      actions: [{ type: "deny" }],
    })),
  });

  it("paid: 6 rules bind", async () => {
    expect((await ngrok.forward(viaEdge({ traffic_policy: sixRules }))).url()).toMatch(/^http:/);
  });

  describe("free", () => {
    let free: NgrokEdge;
    beforeEach(async () => {
      free = await startNgrokEdge({ authtoken: TOKEN, plan: "free" });
    });
    afterEach(async () => {
      await ngrok.kill();
      await free.close();
    });
    const onFree = (extra: Config = {}) =>
      viaEdge({ server_addr: free.serverAddr, session_ca_cert: free.caCert, ...extra });

    it("6 rules are refused with ERR_NGROK_2264", async () => {
      const err = await sdkError(ngrok.forward(onFree({ traffic_policy: sixRules })));
      expect(`${err.errorCode ?? ""} ${err.message}`).toContain("ERR_NGROK_2264");
    });

    it("one dev domain: a second endpoint while one is online is ERR_NGROK_334; after it, the same URL", async () => {
      const first = await ngrok.forward(onFree());
      const err = await sdkError(ngrok.forward(onFree()));
      expect(`${err.errorCode ?? ""} ${err.message}`).toContain("ERR_NGROK_334");
      const url = first.url();
      await first.close();
      const second = await ngrok.forward(onFree());
      expect(second.url()).toBe(url);
    });

    it("both pooling: a second endpoint on the dev domain binds", async () => {
      const session = await new ngrok.SessionBuilder()
        .authtoken(TOKEN)
        .serverAddr(free.serverAddr)
        .caCert(Buffer.from(free.caCert))
        .connect();
      try {
        const pooled = () =>
          session.httpEndpoint().poolingEnabled(true).listenAndForward(`http://127.0.0.1:${app.port}`);
        const first = await pooled();
        const second = await pooled();
        expect(second.url()).toBe(first.url());
        expect(await (await fetch(`${first.url()}/p`)).text()).toBe("hello /p");
        // Unbind before closing the session (the SDK cannot unbind over a closed one).
        await second.close();
        await first.close();
      } finally {
        await session.close();
      }
    });

    it("a domain other than the account's dev domain needs a paid plan (ERR_NGROK_313 / 319)", async () => {
      const sub = await sdkError(ngrok.forward(onFree({ domain: "my-preview.ngrok-free.app" })));
      expect(`${sub.errorCode ?? ""} ${sub.message}`).toContain("ERR_NGROK_313");
      const own = await sdkError(ngrok.forward(onFree({ domain: "preview.example.com" })));
      expect(`${own.errorCode ?? ""} ${own.message}`).toContain("ERR_NGROK_319");
      const dev = await ngrok.forward(onFree({ domain: free.devDomain }));
      expect(dev.url()).toMatch(/^http:/);
    });

    it("browsers get the interstitial unless they send ngrok-skip-browser-warning; scripts never", async () => {
      const url = (await ngrok.forward(onFree())).url()!;
      const browser = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36";
      expect(await (await fetch(url, { headers: { "user-agent": browser } })).text()).toContain("Visit Site");
      const skipped = await fetch(`${url}/s`, {
        headers: { "user-agent": browser, "ngrok-skip-browser-warning": "1" },
      });
      expect(await skipped.text()).toBe("hello /s");
      expect(await (await fetch(`${url}/c`)).text()).toBe("hello /c");
    });
  });
});

function sha256(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

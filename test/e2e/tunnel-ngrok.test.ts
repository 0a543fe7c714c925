import { createServer, type Server } from "node:http";
import { hostname } from "node:os";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import type { Protection, TunnelConfig } from "../../src/config/types.js";
import { PreviewError } from "../../src/errors.js";
import type { Logger } from "../../src/log.js";
import { openTunnel } from "../../src/tunnel/open.js";
import type { Tunnel } from "../../src/tunnel/types.js";
import { verifyTunnel } from "../../src/tunnel/verify.js";
import { type NgrokEdge, OAUTH_TEST_EMAIL_HEADER, startNgrokEdge } from "../support/ngrok-edge/index.js";

// Real @ngrok/ngrok SDK → loopback edge (test/support/ngrok-edge) → a real local HTTP app.
const TOKEN = "test-authtoken";
const PASSWORD = "s3cret-Pa55word";
const basicAuth = { username: "reviewer", password: PASSWORD };
const meta = { name: "app", repo: "octo/models", pr: 42, run: "9001.2" };

/** Every line any tunnel code logged, in any test: checked for secrets at the end. */
const logged: string[] = [];
const log: Logger = {
  info: (m) => void logged.push(m),
  warning: (m) => void logged.push(m),
  debug: (m) => void logged.push(m),
  group: (title, fn) => {
    logged.push(title);
    return fn();
  },
};
const errorsSeen: string[] = [];

let edge: NgrokEdge;
let app: Server;
let appPort: number;
const tunnels: Tunnel[] = [];
const extraEdges: NgrokEdge[] = [];

beforeAll(async () => {
  edge = await startNgrokEdge({ authtoken: TOKEN });
  app = createServer((req, res) => res.end(`app says ${req.url}`));
  await new Promise<void>((resolve) => app.listen(0, "127.0.0.1", () => resolve()));
  appPort = (app.address() as { port: number }).port;
});

afterEach(async () => {
  await Promise.all(tunnels.splice(0).map((t) => t.close()));
  await Promise.all(extraEdges.splice(0).map((e) => e.close()));
});

afterAll(async () => {
  await edge.close();
  await new Promise((resolve) => app.close(resolve));
});

function ngrokConfig(on: NgrokEdge, protection: Partial<Protection> = {}, authtoken = TOKEN): TunnelConfig {
  return {
    provider: "ngrok",
    authtoken,
    serverAddr: on.serverAddr,
    caCert: on.caCert,
    protection: { allowCidrs: [], ...protection },
  };
}

async function open(config: TunnelConfig, opts: Parameters<typeof openTunnel>[4] = {}, port = appPort) {
  const tunnel = await openTunnel(config, { port }, meta, log, opts);
  tunnels.push(tunnel);
  return tunnel;
}

async function openFailure(config: TunnelConfig, opts: Parameters<typeof openTunnel>[4] = {}) {
  const err = await open(config, opts).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PreviewError);
  errorsSeen.push((err as PreviewError).message, String((err as PreviewError).cause));
  return err as PreviewError;
}

async function until(check: () => boolean, ms = 60_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!check() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  return check();
}

/**
 * A witness for "nothing more happens": a tunnel of its own, on its own edge, with a watchdog of
 * `watchdogMs`. `loseNow()` drops it for good and resolves when its watchdog reports it lost: the positive
 * event after which any watchdog with a shorter limit, started no later, has had its chance to fire.
 */
async function watchdogWitness(watchdogMs: number) {
  const own = await freshEdge();
  const tunnel = await open(ngrokConfig(own), { watchdogMs });
  const lost = new Promise<void>((resolve) => tunnel.onLost(() => resolve()));
  return {
    loseNow: () => {
      own.dropSessions({ refuseForMs: 120_000 });
      return lost;
    },
  };
}

async function freshEdge(): Promise<NgrokEdge> {
  const e = await startNgrokEdge({ authtoken: TOKEN });
  extraEdges.push(e);
  return e;
}

test("the URL reaches the app, and ngrok is told who we are without the runner's host name", async () => {
  const before = edge.binds.length;
  const tunnel = await open(ngrokConfig(edge));
  expect(tunnel.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  const checked = await verifyTunnel(`${tunnel.url}/health`, { allowCidrs: [] }, { timeoutMs: 10_000 });
  expect(checked.status).toBe(200);
  expect(await (await fetch(`${tunnel.url}/some/page`)).text()).toBe("app says /some/page");

  const bind = edge.binds.slice(before).at(-1)!;
  expect(bind.url).toBe(tunnel.url);
  expect(bind.forwardsTo).toBe("ml-preview:app");
  expect(bind.forwardsTo).not.toContain(hostname());
  expect(JSON.parse(bind.metadata)).toEqual({ tool: "ml-preview", ...meta });
  expect(bind.trafficPolicy).toBeUndefined();
});

describe("the traffic policy the edge receives", () => {
  const cases: [string, Partial<Protection>, unknown][] = [
    [
      "basic-auth",
      { basicAuth: { username: "reviewer", password: PASSWORD } },
      {
        on_http_request: [
          {
            name: "ml-preview protections",
            actions: [{ type: "basic-auth", config: { credentials: [`reviewer:${PASSWORD}`] } }],
          },
        ],
      },
    ],
    [
      "oauth allow-list",
      { oauth: { provider: "github", allowEmails: ["ana@example.org"], allowDomains: ["acme.com"] } },
      {
        on_http_request: [
          { name: "ml-preview protections", actions: [{ type: "oauth", config: { provider: "github" } }] },
          {
            name: "ml-preview oauth allow-list",
            expressions: [
              "!(actions.ngrok.oauth.identity.email.lowerAscii() in ['ana@example.org'] || " +
                "actions.ngrok.oauth.identity.email.lowerAscii().endsWith('@acme.com'))",
            ],
            actions: [{ type: "deny", config: { status_code: 403 } }],
          },
        ],
      },
    ],
    [
      "allow-cidrs",
      { allowCidrs: ["10.0.0.0/8", "192.0.2.7/32"] },
      {
        on_http_request: [
          {
            name: "ml-preview protections",
            actions: [
              { type: "restrict-ips", config: { enforce: true, allow: ["10.0.0.0/8", "192.0.2.7/32"] } },
            ],
          },
        ],
      },
    ],
    [
      "merged raw traffic-policy",
      {
        allowCidrs: ["10.0.0.0/8"],
        trafficPolicy: {
          on_http_request: [
            { actions: [{ type: "add-headers", config: { headers: { "x-preview": "1" } } }] },
          ],
          on_http_response: [{ actions: [{ type: "remove-headers", config: { headers: ["server"] } }] }],
        },
      },
      {
        on_http_request: [
          {
            name: "ml-preview protections",
            actions: [{ type: "restrict-ips", config: { enforce: true, allow: ["10.0.0.0/8"] } }],
          },
          { actions: [{ type: "add-headers", config: { headers: { "x-preview": "1" } } }] },
        ],
        on_http_response: [{ actions: [{ type: "remove-headers", config: { headers: ["server"] } }] }],
      },
    ],
  ];

  test.each(cases)("%s", async (_name, protection, expected) => {
    const before = edge.binds.length;
    await open(ngrokConfig(edge, protection));
    const bind = edge.binds.slice(before).at(-1)!;
    expect(JSON.parse(bind.trafficPolicy ?? "null")).toEqual(expected);
  });
});

/** A visitor's GET through the public URL; `email` signs in through the edge's test-only OAuth identity. */
async function visit(url: string, opts: { basic?: string; email?: string } = {}) {
  const headers: Record<string, string> = {};
  if (opts.basic) headers.authorization = `Basic ${Buffer.from(opts.basic).toString("base64")}`;
  if (opts.email) headers[OAUTH_TEST_EMAIL_HEADER] = opts.email;
  const res = await fetch(`${url}/page`, { headers, redirect: "manual" });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

describe("every protection the README shows binds on the strict edge and keeps strangers out", () => {
  const CREDS = `reviewer:${PASSWORD}`;

  test("basic-auth: 401 with a challenge without credentials, the app with them", async () => {
    const tunnel = await open(ngrokConfig(edge, { basicAuth }));
    const stranger = await visit(tunnel.url!);
    expect(stranger.status).toBe(401);
    expect(stranger.headers.get("www-authenticate")).toBe('Basic realm="ngrok"');
    expect((await visit(tunnel.url!, { basic: "reviewer:wrong-password" })).status).toBe(401);
    expect(await visit(tunnel.url!, { basic: CREDS })).toMatchObject({ status: 200, body: "app says /page" });
    // Our own check never sends the password (the app would get it): the edge's 401 is its answer.
    expect(
      (await verifyTunnel(tunnel.url!, { allowCidrs: [], basicAuth }, { timeoutMs: 10_000 })).status,
    ).toBe(401);
  });

  test("OAuth with an allow-list: sign-in first, then only listed e-mails and domains, whatever their case", async () => {
    const oauth = { provider: "google", allowEmails: ["partner@other.org"], allowDomains: ["example.com"] };
    const tunnel = await open(ngrokConfig(edge, { oauth }));
    const stranger = await visit(tunnel.url!);
    expect(stranger.status).toBe(302);
    expect(stranger.headers.get("location")).toContain("provider=google");
    expect((await visit(tunnel.url!, { email: "eve@evil.org" })).status).toBe(403);
    expect((await visit(tunnel.url!, { email: "ada@example.com.evil.org" })).status).toBe(403);
    expect(await visit(tunnel.url!, { email: "Ada@Example.com" })).toMatchObject({
      status: 200,
      body: "app says /page",
    });
    expect((await visit(tunnel.url!, { email: "Partner@Other.ORG" })).status).toBe(200);
    expect((await verifyTunnel(tunnel.url!, { allowCidrs: [], oauth }, { timeoutMs: 10_000 })).status).toBe(
      302,
    );
  });

  test("allow-cidrs: an address outside the list gets 403 ERR_NGROK_3205, one inside gets the app", async () => {
    const outside = await open(ngrokConfig(edge, { allowCidrs: ["203.0.113.0/24", "198.51.100.7/32"] }));
    const refused = await visit(outside.url!);
    expect(refused.status).toBe(403);
    expect(refused.headers.get("ngrok-error-code")).toBe("ERR_NGROK_3205");
    const inside = await open(ngrokConfig(edge, { allowCidrs: ["127.0.0.0/8"] }));
    expect(await visit(inside.url!)).toMatchObject({ status: 200, body: "app says /page" });
  });

  test("allow-cidrs with basic-auth: both must pass", async () => {
    const tunnel = await open(ngrokConfig(edge, { allowCidrs: ["127.0.0.1/32"], basicAuth }));
    expect((await visit(tunnel.url!)).status).toBe(401);
    expect((await visit(tunnel.url!, { basic: CREDS })).status).toBe(200);
    const elsewhere = await open(ngrokConfig(edge, { allowCidrs: ["203.0.113.0/24"], basicAuth }));
    expect((await visit(elsewhere.url!, { basic: CREDS })).status).toBe(403);
  });

  test("allow-cidrs with OAuth: both must pass", async () => {
    const oauth = { provider: "github", allowEmails: ["ana@example.org"], allowDomains: [] };
    const tunnel = await open(ngrokConfig(edge, { allowCidrs: ["127.0.0.1/32"], oauth }));
    expect((await visit(tunnel.url!)).status).toBe(302);
    expect((await visit(tunnel.url!, { email: "ana@example.org" })).status).toBe(200);
    expect((await visit(tunnel.url!, { email: "bob@example.org" })).status).toBe(403);
  });

  test("a custom OAuth app for a provider ngrok manages no app for (amazon)", async () => {
    const oauth = {
      provider: "amazon",
      clientId: "amzn1.application-oa2-client.x",
      clientSecret: "amzn-client-s3cret",
      allowEmails: ["ana@example.org"],
      allowDomains: [],
    };
    const tunnel = await open(ngrokConfig(edge, { oauth }));
    expect((await visit(tunnel.url!)).status).toBe(302);
    expect((await visit(tunnel.url!, { email: "ana@example.org" })).status).toBe(200);
  });

  test("a keep-alive visitor cannot reuse an authorised connection without credentials", async () => {
    const tunnel = await open(ngrokConfig(edge, { basicAuth }));
    for (let i = 0; i < 3; i++) {
      expect((await visit(tunnel.url!, { basic: CREDS })).status).toBe(200);
      expect((await visit(tunnel.url!)).status).toBe(401);
    }
  });
});

describe("what the strict edge refuses, as the user reads it", () => {
  test("a policy expression ngrok cannot parse: the whole redacted reason, CEL detail included", async () => {
    const trafficPolicy = {
      on_http_request: [{ expressions: ["req.method == "], actions: [{ type: "deny" }] }],
    };
    const err = await openFailure(ngrokConfig(edge, { basicAuth, trafficPolicy }));
    expect(err.code).toBe("ERR_NGROK_2200");
    expect(err.message).toContain("Invalid policy expression.");
    expect(err.message).toMatch(/ERROR: .*<input>:1:\d+/);
    expect(err.message).toContain("https://ngrok.com/docs/errors/err_ngrok_2200");
  });

  test("the user's own auth action beside allow-cidrs binds: one auth action per endpoint", async () => {
    const oidc = {
      type: "oidc",
      config: { issuer_url: "https://id.example.com", client_id: "a", client_secret: "b" },
    };
    const trafficPolicy = { on_http_request: [{ actions: [oidc] }] };
    const tunnel = await open(ngrokConfig(edge, { allowCidrs: ["127.0.0.1/32"], trafficPolicy }));
    expect(tunnel.url).toMatch(/^http:/);
  });

  test("6 rules: a warning, then the plan decides (paid binds, free refuses with ERR_NGROK_2264)", async () => {
    const trafficPolicy = {
      on_http_request: Array.from({ length: 5 }, (_, i) => ({
        expressions: [`req.url.path == '/blocked-${i}'`],
        actions: [{ type: "deny" }],
      })),
    };
    const before = logged.length;
    const paid = await open(ngrokConfig(edge, { basicAuth, trafficPolicy }));
    expect(paid.url).toMatch(/^http:/);
    expect(logged.slice(before).join("\n")).toMatch(/6 rules.*free plan allows 5.*ERR_NGROK_2264/s);
    const free = await startNgrokEdge({ authtoken: TOKEN, plan: "free" });
    extraEdges.push(free);
    const err = await openFailure(ngrokConfig(free, { basicAuth, trafficPolicy }));
    expect(err.code).toBe("ERR_NGROK_2264");
    expect(err.message).toMatch(/more rules than this account's plan allows.*merge rules/s);
  });

  test("on the free plan, verify gets past the browser interstitial that browsers see", async () => {
    const free = await startNgrokEdge({ authtoken: TOKEN, plan: "free" });
    extraEdges.push(free);
    const tunnel = await open(ngrokConfig(free));
    const browser = { "user-agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0 Safari/537.36" };
    expect(await (await fetch(tunnel.url!, { headers: browser })).text()).toContain("Visit Site");
    const checked = await verifyTunnel(tunnel.url!, { allowCidrs: [] }, { timeoutMs: 10_000 });
    expect(checked.status).toBe(200);
  });

  test("visitor-side plan errors end verify at once with ngrok's advice", async () => {
    const own = await freshEdge();
    const tunnel = await open(ngrokConfig(own));
    own.answerVisitorsWith(727);
    const err = await verifyTunnel(tunnel.url!, { allowCidrs: [] }, { timeoutMs: 30_000 }).catch(
      (e: unknown) => e,
    );
    expect((err as PreviewError).code).toBe("ERR_NGROK_727");
    expect((err as PreviewError).message).toMatch(/HTTP request limit for the month/);
    expect((err as PreviewError).message).not.toMatch(/outbound network/);
  });
});

test("a bad token is ERR_NGROK_105 with what to do, and leaves no session behind", async () => {
  const err = await openFailure(ngrokConfig(edge, {}, "not-the-token-xyz"));
  expect(err.step).toBe("tunnel");
  expect(err.code).toBe("ERR_NGROK_105");
  expect(err.message).toContain("https://ngrok.com/docs/errors/err_ngrok_105");
  expect(err.message).toContain("NGROK_AUTHTOKEN");
  expect(err.message).not.toContain("not-the-token-xyz");
  expect(String(err.cause)).not.toContain("not-the-token-xyz");
  expect(await until(() => edge.sessions() === 0)).toBe(true);
});

test("an empty token fails as ERR_NGROK_4018 without dialling ngrok", async () => {
  const attempts = edge.authAttempts.length;
  const err = await openFailure(ngrokConfig(edge, {}, ""));
  expect(err.code).toBe("ERR_NGROK_4018");
  expect(err.message).toContain("fork");
  expect(edge.authAttempts.length).toBe(attempts);
});

test("an unreachable ingress is its own message", async () => {
  const err = await openFailure({ ...ngrokConfig(edge), serverAddr: "127.0.0.1:1" } as TunnelConfig);
  expect(err.code).toBe("NGROK_UNREACHABLE");
  expect(err.message).toContain("127.0.0.1:1");
});

test("ERR_NGROK_334 twice, then free: the bind is retried and succeeds", async () => {
  const before = edge.binds.length;
  edge.failNextBinds("ERR_NGROK_334", "The endpoint is already online.", 2);
  const tunnel = await open(ngrokConfig(edge), { collisionRetryMs: 10_000 });
  const binds = edge.binds.slice(before);
  expect(binds.map((b) => b.url === "")).toEqual([true, true, false]);
  expect((await verifyTunnel(tunnel.url!, { allowCidrs: [] }, { timeoutMs: 10_000 })).status).toBe(200);
  expect(logged.some((l) => l.includes("ERR_NGROK_334"))).toBe(true);
});

test("ERR_NGROK_334 for longer than the window is explained, and the session is closed", async () => {
  const busy = await freshEdge();
  busy.failNextBinds("ERR_NGROK_334", "The endpoint is already online.", 1_000);
  const started = Date.now();
  const err = await openFailure(ngrokConfig(busy), { collisionRetryMs: 1_500 });
  expect(Date.now() - started).toBeGreaterThanOrEqual(1_500);
  expect(err.code).toBe("ERR_NGROK_334");
  expect(err.message).toContain("dev domain");
  expect(err.message).toContain("https://ngrok.com/docs/errors/err_ngrok_334");
  expect(busy.binds.length).toBeGreaterThan(2);
  expect(await until(() => busy.sessions() === 0)).toBe(true);
});

test("a stop signal during the 334 retries ends them and closes the session", async () => {
  const busy = await freshEdge();
  busy.failNextBinds("ERR_NGROK_334", "The endpoint is already online.", 1_000);
  const controller = new AbortController();
  // The retries would go on for 10 min, longer than the test's own timeout: only the stop ends them in time.
  const failing = openFailure(ngrokConfig(busy), { collisionRetryMs: 600_000, signal: controller.signal });
  expect(await until(() => busy.binds.length >= 2, 60_000)).toBe(true);
  controller.abort();
  const err = await failing;
  expect(err.code).toBe("ABORTED");
  expect(await until(() => busy.sessions() === 0)).toBe(true);
});

test("a session that stays down is reported lost after the watchdog limit, once", async () => {
  const flaky = await freshEdge();
  const tunnel = await open(ngrokConfig(flaky), { watchdogMs: 2_000 });
  const witness = await watchdogWitness(3_000);
  const reasons: string[] = [];
  let lostAt = 0;
  tunnel.onLost((reason) => {
    reasons.push(reason);
    lostAt = Date.now();
  });
  const droppedAt = Date.now();
  flaky.dropSessions({ refuseForMs: 60_000 });
  expect(await until(() => reasons.length > 0, 60_000)).toBe(true);
  expect(lostAt - droppedAt).toBeGreaterThanOrEqual(1_900);
  // A second report would come within another watchdog limit: the witness's longer one has passed.
  await witness.loseNow();
  expect(reasons).toHaveLength(1);
  expect(reasons[0]).toContain("disconnected");
  // Closing ends while the edge still refuses (the test's own timeout would catch a hang).
  await tunnel.close();
});

test("a session that comes straight back is not reported lost", async () => {
  const blip = await freshEdge();
  const tunnel = await open(ngrokConfig(blip), { watchdogMs: 3_000 });
  const witness = await watchdogWitness(4_000);
  const reasons: string[] = [];
  tunnel.onLost((reason) => reasons.push(reason));
  blip.dropSessions();
  // Once the witness, dropped after the blip with a longer limit, is reported lost, the blip's watchdog
  // would have fired.
  await witness.loseNow();
  expect(reasons).toEqual([]);
  expect(blip.sessions()).toBe(1);
});

test("verify fails at step verify while the app behind the tunnel is down", async () => {
  const closedPort = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
  const tunnel = await open(ngrokConfig(edge), {}, closedPort);
  const err = await verifyTunnel(tunnel.url!, { allowCidrs: [] }, { timeoutMs: 2_000 }).catch(
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PreviewError);
  expect((err as PreviewError).step).toBe("verify");
  expect((err as PreviewError).message).toMatch(/HTTP 502|container/);
});

test("close unbinds the endpoint and ends the session; a second close is harmless", async () => {
  const own = await freshEdge();
  const tunnel = await openTunnel(ngrokConfig(own), { port: appPort }, meta, log);
  expect(own.activeListeners()).toBe(1);
  expect(own.sessions()).toBe(1);
  await tunnel.close();
  await tunnel.close();
  expect(own.activeListeners()).toBe(0);
  // The SDK resolves close() first and drops the TLS connection a moment later.
  expect(await until(() => own.sessions() === 0)).toBe(true);
});

test("tunnel: none has no URL and nothing to close", async () => {
  const tunnel = await openTunnel({ provider: "none" }, { port: appPort }, meta, log);
  expect(tunnel.url).toBeUndefined();
  await tunnel.close();
});

test("neither the authtoken nor the basic-auth password appears in any log or error", () => {
  expect(logged.length).toBeGreaterThan(5);
  const text = [...logged, ...errorsSeen].join("\n");
  expect(text).not.toContain(TOKEN);
  expect(text).not.toContain(PASSWORD);
  expect(text).not.toContain("not-the-token-xyz");
});

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { afterEach, describe, expect, test } from "vitest";
import type { Protection } from "../../src/config/types.js";
import { PreviewError } from "../../src/errors.js";
import { classifyAnswer, ngrokCodeOf, verifyTunnel } from "../../src/tunnel/verify.js";

const open: Protection = { allowCidrs: [] };
const cidrs: Protection = { allowCidrs: ["10.0.0.0/8"] };

describe("whose answer is it", () => {
  test.each([
    [200, undefined, open, "ours"],
    [302, undefined, open, "ours"], // e.g. a redirect to ngrok's OAuth login
    [401, undefined, open, "ours"], // basic-auth challenge
    [403, undefined, cidrs, "ours"],
    [403, 3205, cidrs, "ours"], // restrict-ips refusing the runner itself
    [403, 3205, open, "retry"],
    [404, undefined, open, "ours"], // the app's own 404
    [404, 3200, open, "retry"], // endpoint offline
    [502, 8012, open, "retry"], // upstream unreachable
    [502, undefined, open, "retry"], // the SDK's own 502
    [503, undefined, open, "retry"],
    [504, undefined, open, "retry"],
    [500, undefined, open, "ours"],
    [429, 727, open, "final"], // monthly HTTP request limit: waiting does not help
    [429, 734, open, "final"],
    [402, 4026, cidrs, "final"], // out of credit
    [509, 725, open, "final"],
    [509, 4027, open, "final"],
    [403, 3208, open, "final"], // account banned
  ] as const)("HTTP %i, ERR_NGROK_%s → %s", (status, code, protection, expected) => {
    expect(classifyAnswer(status, code, protection)).toBe(expected);
  });

  test("the ngrok code comes from the header or the error page", () => {
    expect(ngrokCodeOf("ERR_NGROK_3200", "")).toBe(3200);
    expect(ngrokCodeOf(null, "<html>… ERR_NGROK_8012 …</html>")).toBe(8012);
    expect(ngrokCodeOf(null, "plain 404")).toBeUndefined();
  });
});

describe("verifyTunnel against a real HTTP server", () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    server = undefined;
  });

  async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
    server = createServer(handler);
    await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", () => resolve()));
    return `http://127.0.0.1:${(server!.address() as { port: number }).port}/health`;
  }

  test("retries while the tunnel answers 502, then returns the app's status", async () => {
    const seen: (string | undefined)[] = [];
    let n = 0;
    const url = await serve((req, res) => {
      seen.push(req.headers["ngrok-skip-browser-warning"] as string | undefined);
      res.statusCode = ++n < 3 ? 502 : 200;
      res.end(n < 3 ? "ERR_NGROK_8012" : "ok");
    });
    const result = await verifyTunnel(url, open, { timeoutMs: 10_000 });
    expect(result.status).toBe(200);
    expect(n).toBe(3);
    expect(seen).toEqual(["1", "1", "1"]);
    expect(result.ms).toBeGreaterThanOrEqual(900);
  });

  test("behind basic auth, ngrok's 401 is the answer: the credentials are never sent", async () => {
    const auth: (string | undefined)[] = [];
    const url = await serve((req, res) => {
      auth.push(req.headers.authorization);
      res
        .writeHead(req.headers.authorization ? 200 : 401, { "www-authenticate": 'Basic realm="ngrok"' })
        .end();
    });
    const protection = { ...open, basicAuth: { username: "rev", password: "password123" } };
    expect((await verifyTunnel(url, protection, { timeoutMs: 5_000 })).status).toBe(401);
    expect(auth).toEqual([undefined]);
  });

  test("behind basic auth, an answer without the password means the protection is off: not shared", async () => {
    const url = await serve((_req, res) => res.end("the app, open to anyone"));
    const protection = { ...open, basicAuth: { username: "rev", password: "password123" } };
    const err = await verifyTunnel(url, protection, { timeoutMs: 5_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PreviewError);
    expect(err).toMatchObject({ step: "verify", code: "PROTECTION_NOT_ENFORCED" });
    expect((err as Error).message).toMatch(/answered HTTP 200 without the basic-auth password/);
    expect((err as Error).message).not.toContain("password123");
  });

  test("a redirect to ngrok's OAuth login is the answer, not followed", async () => {
    let hits = 0;
    const url = await serve((_req, res) => {
      hits++;
      res.writeHead(302, { location: "https://idp.ngrok.com/oauth2/authorize?x=1" }).end();
    });
    const oauth = { ...open, oauth: { provider: "google", allowEmails: [], allowDomains: [] } };
    expect((await verifyTunnel(url, oauth, { timeoutMs: 5_000 })).status).toBe(302);
    expect(hits).toBe(1);
  });

  test("ngrok's IP restriction refusing the runner counts when allow-cidrs is set", async () => {
    const url = await serve((_req, res) => {
      res.writeHead(403, { "ngrok-error-code": "ERR_NGROK_3205" }).end("blocked");
    });
    expect((await verifyTunnel(url, cidrs, { timeoutMs: 5_000 })).status).toBe(403);
  });

  test("an endpoint that stays offline fails at step verify with the last answer", async () => {
    const url = await serve((_req, res) => {
      res.writeHead(404, { "ngrok-error-code": "ERR_NGROK_3200" }).end("The endpoint is offline.");
    });
    const err = await verifyTunnel(url, open, { timeoutMs: 1_500 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PreviewError);
    expect((err as PreviewError).step).toBe("verify");
    expect((err as PreviewError).message).toContain("HTTP 404 ERR_NGROK_3200");
    expect((err as PreviewError).message).toContain("offline");
  });

  test.each([727, 734, 4026, 4027, 725, 3208])(
    "ERR_NGROK_%i (the account's plan, not the tunnel) fails at once with ngrok's advice",
    async (code) => {
      let requests = 0;
      const url = await serve((_req, res) => {
        requests++;
        res.writeHead(429, { "ngrok-error-code": `ERR_NGROK_${code}` }).end(`ERR_NGROK_${code}`);
      });
      const err = await verifyTunnel(url, open, { timeoutMs: 30_000 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PreviewError);
      expect((err as PreviewError).step).toBe("verify");
      expect((err as PreviewError).code).toBe(`ERR_NGROK_${code}`);
      expect((err as PreviewError).message).toContain(`https://ngrok.com/docs/errors/err_ngrok_${code}`);
      expect((err as PreviewError).message).not.toContain("outbound network");
      expect(requests).toBe(1);
    },
  );

  test("an ngrok code only on the error page (no header) is read from the page", async () => {
    const url = await serve((_req, res) => {
      res
        .writeHead(429, { "content-type": "text/html" })
        .end(`<html>${"x".repeat(5000)} ERR_NGROK_727 </html>`);
    });
    const err = await verifyTunnel(url, open, { timeoutMs: 30_000 }).catch((e: unknown) => e);
    expect((err as PreviewError).code).toBe("ERR_NGROK_727");
  });

  test("nothing listening fails at step verify", async () => {
    const url = await serve((_req, res) => res.end());
    await new Promise((resolve) => server!.close(resolve));
    server = undefined;
    const err = await verifyTunnel(url, open, { timeoutMs: 1_000 }).catch((e: unknown) => e);
    expect((err as PreviewError).step).toBe("verify");
    expect((err as PreviewError).message).toContain("ECONNREFUSED");
  });

  test("a stop signal ends the wait", async () => {
    const url = await serve((_req, res) => res.writeHead(502).end());
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    const err = await verifyTunnel(url, open, { timeoutMs: 30_000, signal: controller.signal }).catch(
      (e: unknown) => e,
    );
    expect((err as PreviewError).code).toBe("ABORTED");
  });
});

import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { checkLink } from "../../src/tunnel/verify.js";

const open = { allowCidrs: [] };
const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

/** A loopback "public URL" that answers every request with this status, headers and body. */
async function answering(status: number, headers: Record<string, string> = {}, body = ""): Promise<string> {
  const server = createServer((_req, res) => {
    res.writeHead(status, headers);
    res.end(body);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const signal = () => new AbortController().signal;

describe("checkLink: is the live link's endpoint still there?", () => {
  it("down when ngrok says the endpoint is offline (ERR_NGROK_3200)", async () => {
    const url = await answering(404, { "ngrok-error-code": "ERR_NGROK_3200" }, "endpoint offline");
    expect(await checkLink(url, open, signal())).toEqual({
      up: false,
      why: "ngrok says the endpoint is offline (ERR_NGROK_3200)",
    });
  });

  it("up when nothing listens: ngrok's edge always answers, so a refused connection is the runner's network", async () => {
    const url = await answering(200);
    const server = servers.pop()!;
    await new Promise((closed) => server.close(closed));
    expect(await checkLink(url, open, signal())).toEqual({ up: true });
  });

  it.each([725, 727, 734, 4026, 4027, 3208])(
    "final when ngrok answers ERR_NGROK_%i for the account: a fresh tunnel would not mend it",
    async (code) => {
      const url = await answering(code === 3208 ? 403 : 429, { "ngrok-error-code": `ERR_NGROK_${code}` });
      const result = await checkLink(url, open, signal());
      expect(result).toMatchObject({ up: false, final: true });
      expect((result as { why: string }).why).toContain(`https://ngrok.com/docs/errors/err_ngrok_${code}`);
    },
  );

  it("up when the app fails or ngrok cannot reach it: those are the app's problems, not a lost endpoint", async () => {
    expect(await checkLink(await answering(500, {}, "Traceback"), open, signal())).toEqual({ up: true });
    // The app's own page may mention ngrok's codes: only ngrok's header counts.
    expect(await checkLink(await answering(500, {}, "saw ERR_NGROK_3200 earlier"), open, signal())).toEqual({
      up: true,
    });
    const unreachable = await answering(502, { "ngrok-error-code": "ERR_NGROK_8012" }, "ERR_NGROK_8012");
    expect(await checkLink(unreachable, open, signal())).toEqual({ up: true });
  });

  it("up behind basic auth (its 401), never sending the credentials", async () => {
    let seen: string | undefined;
    const server = createServer((req, res) => {
      seen = req.headers.authorization;
      res.writeHead(seen ? 200 : 401, { "www-authenticate": 'Basic realm="ngrok"' }).end();
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const basicAuth = { username: "reviewer", password: "s3cret-pass" };
    expect(await checkLink(url, { allowCidrs: [], basicAuth }, signal())).toEqual({ up: true });
    expect(seen).toBeUndefined();
  });
});

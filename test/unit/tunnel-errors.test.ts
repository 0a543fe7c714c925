import { describe, expect, test } from "vitest";
import { PreviewError } from "../../src/errors.js";
import { explainNgrokError } from "../../src/tunnel/index.js";
import { ngrokErrorCode } from "../../src/tunnel/ngrok-errors.js";
import { redact } from "../../src/tunnel/redact.js";

/** What the SDK throws: populateErrorCode fills `errorCode` on connect; bind errors carry it in the text. */
function sdkError(code: number, text = "refused", withProperty = true): Error {
  const err = new Error(`failed to start listener: ${text}\nERR_NGROK_${code}\n`);
  if (withProperty) Object.assign(err, { errorCode: `ERR_NGROK_${code}` });
  return err;
}

describe("every ERR_NGROK code a preview can hit says what to do, with code and docs link", () => {
  const cases: [number, RegExp][] = [
    [4018, /fork.*`ngrok-authtoken: \$\{\{ secrets.NGROK_AUTHTOKEN \}\}`/s],
    [105, /does not look like an ngrok authtoken.*NGROK_AUTHTOKEN/s],
    [107, /reset or revoked/],
    [108, /agent sessions.*concurrency:/s],
    [324, /more endpoints over one agent session/],
    [18021, /endpoints online.*concurrency:/s],
    [334, /already online.*dev domain.*concurrency:/s],
    [727, /monthly HTTP request limit/],
    [4027, /limit of its plan/],
    [734, /requests-per-minute/],
  ];

  test.each(cases)("ERR_NGROK_%i", (code, advice) => {
    const err = explainNgrokError(sdkError(code));
    expect(err).toBeInstanceOf(PreviewError);
    expect(err.step).toBe("tunnel");
    expect(err.code).toBe(`ERR_NGROK_${code}`);
    expect(err.message).toMatch(advice);
    expect(err.message).toContain(`ERR_NGROK_${code}`);
    expect(err.message).toContain(`https://ngrok.com/docs/errors/err_ngrok_${code}`);
  });

  test("the code is found in the message when the SDK did not set errorCode (bind errors)", () => {
    expect(ngrokErrorCode(sdkError(334, "x", false))).toBe(334);
    expect(explainNgrokError(sdkError(334, "x", false)).code).toBe("ERR_NGROK_334");
  });

  test("334 names the domain and how long we waited", () => {
    const err = explainNgrokError(sdkError(334), { domain: "pr.example.dev", waitedMs: 60_000 });
    expect(err.message).toContain("https://pr.example.dev");
    expect(err.message).toContain("60 s");
  });

  test("an unknown code still carries code, link and ngrok's own words", () => {
    const err = explainNgrokError(sdkError(9999, "something odd"));
    expect(err.code).toBe("ERR_NGROK_9999");
    expect(err.message).toContain("something odd");
    expect(err.message).toContain("https://ngrok.com/docs/errors/err_ngrok_9999");
  });
});

describe("failures to reach ngrok at all", () => {
  test.each([
    "failed to connect session: failed to establish tcp connection",
    "failed to connect session: failed to establish tls connection",
    "getaddrinfo ENOTFOUND connect.ngrok-agent.com",
    "connect ECONNREFUSED 127.0.0.1:443",
  ])("%s", (message) => {
    const err = explainNgrokError(new Error(message), { serverAddr: "ingress.corp:443" });
    expect(err.code).toBe("NGROK_UNREACHABLE");
    expect(err.message).toContain("ingress.corp:443");
    expect(err.message).toContain("ngrok-server-addr");
  });

  test("without a server address it names ngrok's default ingress", () => {
    const err = explainNgrokError(new Error("failed to establish tcp connection"));
    expect(err.message).toContain("connect.ngrok-agent.com:443");
    expect(err.message).not.toContain("ngrok-server-addr");
  });
});

describe("secrets", () => {
  test("ngrok's 105 text quotes the token: neither message nor cause keeps it", () => {
    const raw = new Error(
      "The authtoken you specified does not look like a proper ngrok authtoken.\nYour authtoken: 2abcSECRET\nERR_NGROK_105",
    );
    const unknownCode = new Error("Your authtoken: 2abcSECRET is odd\nERR_NGROK_9998");
    for (const err of [explainNgrokError(raw), explainNgrokError(unknownCode)]) {
      expect(err.message).not.toContain("2abcSECRET");
      expect(String(err.cause)).not.toContain("2abcSECRET");
    }
  });

  test("known secrets are scrubbed from whatever the SDK said", () => {
    const err = explainNgrokError(new Error("boom with hunter22 inside"), { secrets: ["hunter22"] });
    expect(err.message).toBe("Opening the ngrok tunnel failed: boom with *** inside");
    expect(redact("token is abc, Authtoken: xyz", ["abc"])).toBe("token is ***, Authtoken: ***");
  });

  test("a PreviewError passes through untouched", () => {
    const original = new PreviewError("tunnel", "already explained", { code: "X" });
    expect(explainNgrokError(original)).toBe(original);
  });
});

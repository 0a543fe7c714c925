import { describe, expect, test } from "vitest";
import { PreviewError } from "../../src/errors.js";
import { explainNgrokError, ngrokErrorCode, redact } from "../../src/tunnel/ngrok-errors.js";

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
    [727, /HTTP request limit for the month/],
    [4027, /included bandwidth/],
    [734, /requests-per-minute/],
    [725, /bandwidth limit for the month/],
    [4026, /ran out of credit.*allow-cidrs/s],
    [3208, /banned/],
    [121, /older than the account allows.*Update ml-preview/s],
    [313, /`ngrok-domain`.*paid/s],
    [319, /`ngrok-domain`.*not reserved.*domains\/new/s],
    [1633, /`oauth-client-id` and `oauth-client-secret`/],
    [2239, /one sign-in.*`basic-auth`, `oauth-provider`/s],
    [2256, /not on this account's plan.*upgrade/s],
    [2263, /paid traffic-policy features/],
    [2264, /more rules than this account's plan allows.*5 per policy/s],
    [2201, /ngrok refused the traffic policy/],
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

  test("a policy error keeps ngrok's whole text, the CEL detail on later lines included, redacted", () => {
    const err = new Error(
      "failed to start listener: Invalid policy expression.\n" +
        "ERROR: <input>:1:9: Syntax error: mismatched input 'hunter2-secret' expecting <EOF>\n" +
        " | req.url hunter2-secret\n\nERR_NGROK_2200\n",
    );
    const explained = explainNgrokError(err, { secrets: ["hunter2-secret"] });
    expect(explained.code).toBe("ERR_NGROK_2200");
    expect(explained.message).toContain("Invalid policy expression.");
    expect(explained.message).toContain("Syntax error: mismatched input '***' expecting <EOF>");
    expect(explained.message).toContain("| req.url ***");
    expect(explained.message).not.toContain("hunter2-secret");
    expect(explained.message).toContain("https://ngrok.com/docs/errors/err_ngrok_2200");
  });

  test("the 334 advice says a per-preview ngrok-domain needs a paid plan", () => {
    expect(explainNgrokError(sdkError(334)).message).toMatch(/paid plan.*own `ngrok-domain`/);
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

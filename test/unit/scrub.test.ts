import { describe, expect, it } from "vitest";
import { LogRing } from "../../src/docker/logs.js";
import type { RunContext } from "../../src/github/pull-request.js";
import { render } from "../../src/github/render.js";
import { scrubSecrets, truncate } from "../../src/scrub.js";

const run: RunContext = {
  owner: "acme",
  repo: "models",
  runId: "1.1",
  runUrl: "https://github.com/acme/models/actions/runs/1",
  sha: "f".repeat(40),
  eventName: "pull_request",
};
const SECRET = "hf_SecretModelHubToken0123456789";
/** No lone surrogate: each high half followed by a low half, each low half preceded by a high one. */
const wellFormed = (s: string) =>
  !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);
/** No piece of the secret this long may survive anywhere. */
const fragments = (s: string) => Array.from({ length: s.length - 7 }, (_, i) => s.slice(i, i + 8));

describe("the one scrubber, before any cut", () => {
  it("a secret straddling the comment's error cut (4000) leaves no fragment", () => {
    const error = `${"e".repeat(3990)}${SECRET} and more`;
    const body = render(
      { state: "failed", details: { step: "build", error } },
      { name: "app", run, secrets: [SECRET] },
    );
    for (const f of fragments(SECRET)) expect(body).not.toContain(f);
    expect(body).toContain("***");
  });

  it("a secret straddling a log line's cut (500) leaves no fragment", () => {
    const logLines = [`${"l".repeat(495)}${SECRET}`];
    const body = render(
      { state: "failed", details: { step: "run", error: "x", logLines } },
      { name: "app", run, secrets: [SECRET] },
    );
    for (const f of fragments(SECRET)) expect(body).not.toContain(f);
  });

  it("the container log ring scrubs before cutting its 4096-character lines", () => {
    const ring = new LogRing([SECRET]);
    ring.write("stdout", Buffer.from(`${"r".repeat(4090)}${SECRET}\n`));
    const [line] = ring.tail(1);
    for (const f of fragments(SECRET)) expect(line).not.toContain(f);
  });

  it("scrubs URL-encoded forms and each line of a multi-line secret", () => {
    const pem = "-----BEGIN KEY-----\nMIIBfakekeymaterial\n-----END KEY-----";
    const text = `key: ${encodeURIComponent("p@ss word/1")} and MIIBfakekeymaterial`;
    expect(scrubSecrets(text, ["p@ss word/1", pem])).toBe("key: *** and ***");
  });

  it("scrubs the base64 forms: actions/checkout's basic header, the plain encoding, inside longer base64", () => {
    const token = "ghs_16C7e42F292c6912E7710c838347Ae178B4a";
    const header = `AUTHORIZATION: basic ${Buffer.from(`x-access-token:${token}`).toString("base64")}`;
    const config = `[http "https://github.com/"]\n\textraheader = ${header}\n`;
    expect(scrubSecrets(config, [token])).toBe(
      `[http "https://github.com/"]\n\textraheader = AUTHORIZATION: basic ***\n`,
    );
    expect(scrubSecrets(`token=${Buffer.from(token).toString("base64")};`, [token])).toBe("token=***;");
    // A registry auth (`base64(user:password)`): the password starts at any of the three offsets.
    for (const user of ["ada", "adam", "adams"]) {
      const auth = Buffer.from(`${user}:${SECRET}`).toString("base64");
      const scrubbed = scrubSecrets(`{"auth":"${auth}"}`, [SECRET]);
      expect(scrubbed).toContain("***");
      // What is left of the encoding decodes to the user name and a byte or two of the secret at most.
      const left = scrubbed
        .replace(/^\{"auth":"|"\}$/g, "")
        .split("***")
        .join("");
      expect(left.length).toBeLessThanOrEqual(Math.ceil(((user.length + 1) * 4) / 3) + 4);
    }
  });
});

describe("truncate", () => {
  it("never splits a surrogate pair", () => {
    const text = `${"a".repeat(9)}😀tail`;
    const cut = truncate(text, 10);
    expect(cut).toBe(`${"a".repeat(9)} …`);
    expect(wellFormed(cut)).toBe(true);
    expect(truncate(`${"a".repeat(8)}😀tail`, 10)).toBe(`${"a".repeat(8)}😀 …`);
  });

  it("a comment's cut error text stays well-formed", () => {
    const error = `${"e".repeat(3999)}😀😀😀`;
    const body = render({ state: "failed", details: { step: "build", error } }, { name: "app", run });
    expect(wellFormed(body)).toBe(true);
  });
});

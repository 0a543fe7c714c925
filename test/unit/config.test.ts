import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ConfigErrors, collectSecrets, parseConfig } from "../../src/config/parse.js";
import type { Inputs } from "../../src/config/types.js";

let workspace: string;
let outside: string;
const TOKEN = "2abcNgrokSecretToken_xyz";

beforeAll(() => {
  workspace = mkdtempSync(join(tmpdir(), "ws-"));
  outside = mkdtempSync(join(tmpdir(), "elsewhere-"));
  writeFileSync(join(workspace, "Dockerfile"), "FROM scratch\n");
  mkdirSync(join(workspace, "app"));
  writeFileSync(join(workspace, "app", "Dockerfile"), "FROM scratch\n");
  writeFileSync(join(outside, "Dockerfile"), "FROM scratch\n");
  writeFileSync(join(workspace, "not-a-cert.pem"), "hello\n");
  symlinkSync(outside, join(workspace, "escape"));
  symlinkSync(join(outside, "Dockerfile"), join(workspace, "Dockerfile.link"));
});

const parse = (inputs: Inputs, fork = false) =>
  parseConfig({ "ngrok-authtoken": TOKEN, ...inputs }, { workspace, forkPullRequest: fork });

function errorFor(inputs: Inputs): { input: string; message: string } {
  try {
    parse(inputs);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigErrors);
    const first = (err as ConfigErrors).errors[0]!;
    return { input: first.input, message: first.message };
  }
  throw new Error(`expected ${JSON.stringify(inputs)} to be rejected`);
}

describe("parseConfig accepts good input", () => {
  it("applies the defaults of INTERFACES.md", () => {
    const c = parse({});
    expect(c.source).toMatchObject({
      kind: "build",
      context: expect.stringContaining("ws-"),
      dockerfile: "Dockerfile",
    });
    expect(c.durationMs).toBe(30 * 60_000);
    expect(c.readyTimeoutMs).toBe(5 * 60_000);
    expect(c).toMatchObject({ name: "app", wait: true, stopOnClose: true, port: undefined });
    expect(c.github).toMatchObject({ comment: true, deployment: false, qrCode: true });
    expect(c.tunnel).toMatchObject({ provider: "ngrok", authtoken: TOKEN });
    expect(Object.isFrozen(c) && Object.isFrozen(c.tunnel)).toBe(true);
  });

  it("parses every kind of value", () => {
    const c = parse({
      context: "app",
      "build-args": "A=1\nB=x=y\n# comment\n",
      env: "SECRET_KEY=s3cr3t-value\nDEBUG=1",
      port: "8050",
      duration: "1h30m",
      "ready-timeout": "90s",
      command: `python app.py --title "two words"`,
      gpus: "all",
      memory: "1.5g",
      cpus: "1.5",
      "oauth-provider": "github",
      "oauth-client-id": "Iv1.0123456789abcdef",
      "oauth-client-secret": "oauth-app-s3cret",
      "oauth-allow-emails": "ada@example.com, bob@example.org",
      "oauth-allow-domains": "example.net",
      "allow-cidrs": "203.0.113.0/24\n198.51.100.7",
      "traffic-policy": "on_http_response:\n  - actions:\n      - type: add-headers\n",
      "pr-number": "12",
      "pr-sha": "3F2A9C1D",
      cache: "registry:ghcr.io/octo/app:cache",
    });
    expect(c.source).toMatchObject({
      kind: "build",
      dockerfile: "Dockerfile",
      buildArgs: { A: "1", B: "x=y" },
    });
    expect(c.env).toEqual({ SECRET_KEY: "s3cr3t-value", DEBUG: "1" });
    expect(c.github).toMatchObject({ prNumber: 12, prSha: "3f2a9c1d" });
    expect(c.command).toEqual(["python", "app.py", "--title", "two words"]);
    expect(c.durationMs).toBe(5_400_000);
    expect(c.resources).toEqual({ gpus: "all", memoryBytes: 1.5 * 1024 ** 3, nanoCpus: 1.5e9 });
    expect(c.tunnel.provider === "ngrok" && c.tunnel.protection.allowCidrs).toEqual([
      "203.0.113.0/24",
      "198.51.100.7/32",
    ]);
    expect(c.tunnel.provider === "ngrok" && c.tunnel.protection.oauth).toMatchObject({
      provider: "github",
      clientId: "Iv1.0123456789abcdef",
      clientSecret: "oauth-app-s3cret",
    });
    expect(c.secrets).toEqual(expect.arrayContaining([TOKEN, "oauth-app-s3cret", "s3cr3t-value"]));
    expect(c.secrets).not.toContain("Iv1.0123456789abcdef");
    expect(c.secrets).not.toContain("1");
    expect(c.github.prNumber).toBe(12);
  });

  it("accepts a missing token on a fork PR (the lifecycle reports skipped)", () => {
    const c = parseConfig({}, { workspace, forkPullRequest: true });
    expect(c.tunnel).toMatchObject({ provider: "ngrok", authtoken: "" });
  });

  it("runs an image instead of building when image is set", () => {
    expect(parse({ image: "ghcr.io/octo/app:pr-12" }).source).toEqual({
      kind: "image",
      image: "ghcr.io/octo/app:pr-12",
    });
  });
});

// Each row: inputs, the input the error must name, and a phrase that tells what was wrong or how to fix it.
const BAD: Array<[string, Inputs, string, RegExp]> = [
  ["duration with unknown unit", { duration: "7x" }, "duration", /not a duration.*90s, 30m/],
  ["zero duration", { duration: "0s" }, "duration", /longer than zero/],
  ["negative duration", { duration: "-5m" }, "duration", /not a duration/],
  ["duration over 5h50m", { duration: "6h" }, "duration", /5h50m/],
  ["ready-timeout nonsense", { "ready-timeout": "soon" }, "ready-timeout", /not a duration/],
  ["port 0", { port: "0" }, "port", /1 to 65535/],
  ["port 70000", { port: "70000" }, "port", /1 to 65535/],
  ["port http", { port: "http" }, "port", /"http" is not a TCP port/],
  ["context ../..", { context: "../.." }, "context", /outside the workspace/],
  ["context absolute elsewhere", { context: "/etc" }, "context", /outside the workspace/],
  ["context symlink out", { context: "escape" }, "context", /symlink that leads outside/],
  ["context missing", { context: "nope" }, "context", /not a folder/],
  ["dockerfile outside", { dockerfile: "../x/Dockerfile" }, "dockerfile", /outside the build context/],
  ["dockerfile symlink out", { dockerfile: "Dockerfile.link" }, "dockerfile", /outside the build context/],
  ["dockerfile missing", { dockerfile: "Nope.Dockerfile" }, "dockerfile", /not found/],
  ["build-args without =", { "build-args": "JUSTAKEY" }, "build-args", /line 1 "JUSTAKEY" is not KEY=VALUE/],
  ["env with bad key", { env: "1BAD=x" }, "env", /line 1 .* is not KEY=VALUE/],
  ["basic-auth without colon", { "basic-auth": "justapassword" }, "basic-auth", /must be user:password/],
  ["basic-auth short password", { "basic-auth": "ada:short" }, "basic-auth", /8 to 128/],
  ["basic-auth with `${`", { "basic-auth": "ada:pa${ss}word" }, "basic-auth", /`\$\{`.*expression/],
  ["basic-auth with a tab", { "basic-auth": "ada:pass\tword" }, "basic-auth", /control character/],
  [
    "basic-auth beside oauth-provider",
    { "basic-auth": "ada:correct-horse", "oauth-provider": "google", "oauth-allow-domains": "a.co" },
    "basic-auth",
    /basic-auth and oauth-provider.*one sign-in/,
  ],
  [
    "amazon without its own OAuth app",
    { "oauth-provider": "amazon", "oauth-allow-domains": "a.co" },
    "oauth-client-id",
    /required for oauth-provider amazon.*no managed amazon app/,
  ],
  [
    "facebook without its own OAuth app",
    { "oauth-provider": "Facebook", "oauth-allow-domains": "a.co" },
    "oauth-client-id",
    /required for oauth-provider facebook/,
  ],
  [
    "oauth-client-id without its secret",
    { "oauth-provider": "github", "oauth-client-id": "Iv1.x", "oauth-allow-domains": "a.co" },
    "oauth-client-secret",
    /oauth-client-secret is missing/,
  ],
  [
    "oauth client without a provider",
    { "oauth-client-id": "Iv1.x", "oauth-client-secret": "sssssss" },
    "oauth-provider",
    /oauth-provider is missing/,
  ],
  [
    "bad oauth email",
    { "oauth-provider": "google", "oauth-allow-emails": "ada-at-example" },
    "oauth-allow-emails",
    /not an email/,
  ],
  [
    "bad oauth domain",
    { "oauth-provider": "google", "oauth-allow-domains": "https://x" },
    "oauth-allow-domains",
    /not a domain/,
  ],
  [
    "oauth allow-list without provider",
    { "oauth-allow-emails": "a@b.co" },
    "oauth-provider",
    /oauth-provider is missing/,
  ],
  [
    "oauth provider with nobody allowed",
    { "oauth-provider": "github" },
    "oauth-allow-emails",
    /nobody is allowed/,
  ],
  ["bad CIDR", { "allow-cidrs": "10.0.0.0/33" }, "allow-cidrs", /not an IP address or CIDR/],
  ["CIDR that is a word", { "allow-cidrs": "office" }, "allow-cidrs", /"office"/],
  ["unknown tunnel", { tunnel: "cloudflared" }, "tunnel", /Use ngrok .* or none/],
  [
    "unknown oauth provider",
    { "oauth-provider": "myspace", "oauth-allow-domains": "a.co" },
    "oauth-provider",
    /one of: amazon/,
  ],
  ["gpus word", { gpus: "some" }, "gpus", /"all" or a number/],
  ["memory nonsense", { memory: "lots" }, "memory", /512m, 4g/],
  ["memory too small", { memory: "1k" }, "memory", /at least 6m/],
  ["cpus negative", { cpus: "-1" }, "cpus", /positive number/],
  ["pr-number not numeric", { "pr-number": "twelve" }, "pr-number", /whole number/],
  ["pr-sha not a commit", { "pr-number": "12", "pr-sha": "main" }, "pr-sha", /7 to 40 hex digits/],
  ["pr-sha too short", { "pr-number": "12", "pr-sha": "3f2a9c" }, "pr-sha", /is not a commit/],
  ["pr-sha without pr-number", { "pr-sha": "3f2a9c1" }, "pr-sha", /set pr-number to the pull request/],
  ["name that breaks the marker", { name: 'app" state="live' }, "name", /cannot be used/],
  [
    "traffic-policy not YAML",
    { "traffic-policy": "on_http_request: [unclosed" },
    "traffic-policy",
    /neither valid YAML nor JSON/,
  ],
  [
    "traffic-policy a plain string",
    { "traffic-policy": "allow everyone" },
    "traffic-policy",
    /must be a YAML or JSON mapping/,
  ],
  ["invalid image reference", { image: "Not A/Valid:Image!" }, "image", /not a valid image reference/],
  // No dot, colon or "localhost": a path component, not a registry, so it must be lower-case (as Docker says).
  ["upper-case first path component", { image: "Octo/app:1.0" }, "image", /not a valid image reference/],
  ["unreadable ngrok-ca-cert", { "ngrok-ca-cert": "missing/ca.pem" }, "ngrok-ca-cert", /cannot be read/],
  ["ngrok-ca-cert without PEM", { "ngrok-ca-cert": "not-a-cert.pem" }, "ngrok-ca-cert", /no PEM certificate/],
  [
    "ngrok tunnel without token",
    { "ngrok-authtoken": "" },
    "ngrok-authtoken",
    /NGROK_AUTHTOKEN.*tunnel: none/,
  ],
  ["wait not boolean", { wait: "yes" }, "wait", /true or false/],
  ["health-path without slash", { "health-path": "health" }, "health-path", /starting with "\/"/],
  ["unknown cache", { cache: "s3" }, "cache", /none, gha .* registry:/],
  ["registry-username alone", { "registry-username": "ada" }, "registry-password", /go together/],
  [
    "ngrok-server-addr without port",
    { "ngrok-server-addr": "connect.example.com" },
    "ngrok-server-addr",
    /host:port/,
  ],
];

describe("parseConfig rejects bad input with one clear error naming the input", () => {
  it.each(BAD)("%s", (_label, inputs, input, phrase) => {
    const { input: named, message } = errorFor(inputs);
    expect(named).toBe(input);
    expect(message).toMatch(phrase);
    expect(message.startsWith(input)).toBe(true);
  });

  it("reports every bad input at once", () => {
    try {
      parse({ duration: "7x", port: "0", name: "-bad" });
      throw new Error("not rejected");
    } catch (err) {
      expect((err as ConfigErrors).errors.map((e) => e.input).sort()).toEqual(["duration", "name", "port"]);
    }
  });

  it("never shows a secret in an error", () => {
    const secrets = ["ada:short7!", "sup3rs3cret", "pass${wor}d1"];
    const cases: Inputs[] = [
      { "basic-auth": secrets[0] },
      { "basic-auth": `ada:${secrets[2]}` },
      { env: `sup3rs3cret` },
      { "basic-auth": "sup3rs3cret" },
    ];
    for (const inputs of cases) {
      const { message } = errorFor(inputs);
      for (const s of secrets) expect(message).not.toContain(s);
    }
  });
});

describe("parseConfig merges protections with the raw traffic policy before anything starts", () => {
  it("rejects a raw policy that repeats the basic-auth input", () => {
    const { input, message } = errorFor({
      "basic-auth": "ada:correct-horse",
      "traffic-policy": JSON.stringify({
        on_http_request: [{ actions: [{ type: "basic-auth", config: { credentials: ["x:yyyyyyyy"] } }] }],
      }),
    });
    expect(input).toBe("traffic-policy");
    expect(message).toMatch(/basic-auth/);
  });

  it("leaves the rule count to ngrok: paid plans allow more than the free plan's 5", () => {
    const rules = Array.from({ length: 6 }, () => ({
      actions: [{ type: "add-headers", config: { headers: { a: "b" } } }],
    }));
    expect(() => parse({ "traffic-policy": JSON.stringify({ on_http_request: rules }) })).not.toThrow();
  });

  it("rejects an on_tcp_connect forward that would bypass allow-cidrs", () => {
    const { input, message } = errorFor({
      "allow-cidrs": "10.0.0.0/8",
      "traffic-policy":
        "on_tcp_connect:\n  - actions:\n      - type: forward-internal\n        config: {url: 'https://a.internal'}\n",
    });
    expect(input).toBe("traffic-policy");
    expect(message).toMatch(/bypass/);
  });
});

describe("build-args and build-secrets: values are secrets", () => {
  it("build-secrets: ID=VALUE per line, a quoted entry may span lines; every value (4+ characters) is a secret", () => {
    const pem = '-----BEGIN KEY-----\nMIIB"quoted"material\n-----END KEY-----';
    const c = parse({
      "build-args": "HF_TOKEN=hf_buildarg_token\nDEBUG=1",
      "build-secrets": [
        "hf_token=hf_secret=with=equals",
        "# a comment",
        `"deploy.key=${pem.replaceAll('"', '""')}"`,
        "npmrc=//registry.npmjs.org/:_authToken=abc",
      ].join("\n"),
    });
    expect(c.source).toMatchObject({
      kind: "build",
      buildArgs: { HF_TOKEN: "hf_buildarg_token", DEBUG: "1" },
      buildSecrets: {
        hf_token: "hf_secret=with=equals",
        "deploy.key": pem,
        npmrc: "//registry.npmjs.org/:_authToken=abc",
      },
    });
    expect(c.secrets).toEqual(
      expect.arrayContaining([
        "hf_buildarg_token",
        "hf_secret=with=equals",
        pem,
        "//registry.npmjs.org/:_authToken=abc",
      ]),
    );
    // "1" is no secret: masking it would turn every 1 in the log into ***.
    expect(c.secrets).not.toContain("1");
  });

  it("no build-secrets: none on the source", () => {
    expect(parse({}).source).toMatchObject({ buildSecrets: undefined });
  });

  it.each([
    ["a line that is no entry", "hf_token=abc\nMIIBfakekeymaterial", /line 2 \(hidden\) is not ID=VALUE/],
    ["an unclosed quote", '"hf_token=abc\nmore', /line 1 opens a quote that does not close/],
    ["a bad id", "hf token=abcd", /is not ID=VALUE with an ID of letters/],
    ["an id twice", "a=one1\na=two2", /gives the secret a twice/],
    ["a value over 500 KB", `big=${"x".repeat(500 * 1024 + 1)}`, /larger than 500 KB/],
  ])("rejects %s, naming build-secrets and showing no value", (_label, raw, phrase) => {
    const { input, message } = errorFor({ "build-secrets": raw });
    expect(input).toBe("build-secrets");
    expect(message).toMatch(phrase);
    for (const value of ["abc", "MIIBfakekeymaterial", "one1", "two2"]) expect(message).not.toContain(value);
  });
});

describe("collectSecrets, read leniently before validation (masking comes first)", () => {
  it("takes build-arg values and build-secret values, even from input that does not validate", () => {
    const secrets = collectSecrets(
      {
        "build-args": "  HF_TOKEN=hf_arg_value  \nbad line\nN=1",
        "build-secrets": "tok=sec_value_1\nMIIBstray-line",
      },
      {},
    );
    expect(secrets).toEqual(expect.arrayContaining(["hf_arg_value", "sec_value_1", "MIIBstray-line"]));
    expect(secrets).not.toContain("1");
  });
});

import { describe, expect, test } from "vitest";
import type { Protection } from "../../src/config/types.js";
import { ConfigError } from "../../src/errors.js";
import { buildTrafficPolicy } from "../../src/tunnel/index.js";
import { celString } from "../../src/tunnel/protection-rules.js";

const none: Protection = { allowCidrs: [] };
const with_ = (p: Partial<Protection>): Protection => ({ ...none, ...p });

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error("expected a ConfigError");
}

describe("each protection input becomes exactly this policy", () => {
  test("no protection and no raw policy: no policy at all", () => {
    expect(buildTrafficPolicy(none)).toBeUndefined();
  });

  test("basic-auth", () => {
    expect(buildTrafficPolicy(with_({ basicAuth: { username: "rev", password: "pa:ss-word" } }))).toEqual({
      on_http_request: [
        {
          name: "ml-preview protections",
          actions: [{ type: "basic-auth", config: { credentials: ["rev:pa:ss-word"] } }],
        },
      ],
    });
  });

  test("allow-cidrs", () => {
    expect(buildTrafficPolicy(with_({ allowCidrs: ["203.0.113.0/24", "2001:db8::/32"] }))).toEqual({
      on_http_request: [
        {
          name: "ml-preview protections",
          actions: [
            { type: "restrict-ips", config: { enforce: true, allow: ["203.0.113.0/24", "2001:db8::/32"] } },
          ],
        },
      ],
    });
  });

  test("oauth without an allow-list lets any signed-in user through: no deny rule", () => {
    const oauth = { provider: "google", allowEmails: [], allowDomains: [] };
    expect(buildTrafficPolicy(with_({ oauth }))).toEqual({
      on_http_request: [
        { name: "ml-preview protections", actions: [{ type: "oauth", config: { provider: "google" } }] },
      ],
    });
  });

  test("oauth with allowed emails denies everyone else", () => {
    const oauth = { provider: "github", allowEmails: ["a@x.io", "b@y.io"], allowDomains: [] };
    expect(buildTrafficPolicy(with_({ oauth }))?.on_http_request).toEqual([
      { name: "ml-preview protections", actions: [{ type: "oauth", config: { provider: "github" } }] },
      {
        name: "ml-preview oauth allow-list",
        expressions: ["!(actions.ngrok.oauth.identity.email in ['a@x.io', 'b@y.io'])"],
        actions: [{ type: "deny", config: { status_code: 403 } }],
      },
    ]);
  });

  test("oauth with allowed domains checks the email's ending, with or without a leading @", () => {
    const oauth = { provider: "microsoft", allowEmails: [], allowDomains: ["acme.com", "@corp.example"] };
    const rules = buildTrafficPolicy(with_({ oauth }))?.on_http_request as Record<string, unknown>[];
    expect(rules[1]?.expressions).toEqual([
      "!(actions.ngrok.oauth.identity.email.endsWith('@acme.com') || " +
        "actions.ngrok.oauth.identity.email.endsWith('@corp.example'))",
    ]);
  });

  test("all protections share one rule: IP check, then basic auth, then OAuth; allow-list second", () => {
    const policy = buildTrafficPolicy({
      allowCidrs: ["10.0.0.0/8"],
      basicAuth: { username: "u", password: "password1" },
      oauth: { provider: "gitlab", allowEmails: ["a@b.c"], allowDomains: [] },
    });
    const rules = policy?.on_http_request as { actions: { type: string }[] }[];
    expect(rules).toHaveLength(2);
    expect(rules[0]?.actions.map((a) => a.type)).toEqual(["restrict-ips", "basic-auth", "oauth"]);
    expect(rules[1]?.actions.map((a) => a.type)).toEqual(["deny"]);
  });

  test("a quote in an allowed email cannot break out of the CEL string", () => {
    expect(celString("o'neil@x.io")).toBe("'o\\'neil@x.io'");
    expect(celString("a\\b")).toBe("'a\\\\b'");
  });
});

describe("merging the raw traffic-policy input", () => {
  const userRule = { name: "rate", actions: [{ type: "rate-limit", config: { capacity: 10 } }] };
  const responseRule = { actions: [{ type: "add-headers", config: { headers: { a: "b" } } }] };

  test("alone, it passes through unchanged", () => {
    const trafficPolicy = { on_http_request: [userRule], on_http_response: [responseRule] };
    expect(buildTrafficPolicy(with_({ trafficPolicy }))).toEqual(trafficPolicy);
  });

  test("our rules first in on_http_request, then the user's; other phases copied", () => {
    const trafficPolicy = { on_http_response: [responseRule], on_http_request: [userRule] };
    const policy = buildTrafficPolicy(with_({ allowCidrs: ["1.2.3.4/32"], trafficPolicy }));
    expect(policy).toEqual({
      on_http_response: [responseRule],
      on_http_request: [
        {
          name: "ml-preview protections",
          actions: [{ type: "restrict-ips", config: { enforce: true, allow: ["1.2.3.4/32"] } }],
        },
        userRule,
      ],
    });
  });

  test("a user policy without on_http_request still gets ours", () => {
    const policy = buildTrafficPolicy(
      with_({
        basicAuth: { username: "u", password: "password1" },
        trafficPolicy: { on_http_response: [responseRule] },
      }),
    );
    expect((policy?.on_http_request as unknown[] | undefined)?.length).toBe(1);
    expect(policy?.on_http_response).toEqual([responseRule]);
  });

  test.each([
    ["basic-auth", { basicAuth: { username: "u", password: "password1" } }],
    ["oauth-provider", { oauth: { provider: "google", allowEmails: [], allowDomains: [] } }],
    ["allow-cidrs", { allowCidrs: ["10.0.0.0/8"] }],
  ] as const)("the user's own action of the same kind as %s is a conflict", (input, protection) => {
    const type = { "basic-auth": "basic-auth", "oauth-provider": "oauth", "allow-cidrs": "restrict-ips" }[
      input
    ];
    const trafficPolicy = { on_http_request: [{ actions: [{ type, config: {} }] }] };
    const err = configError(() => buildTrafficPolicy(with_({ ...protection, trafficPolicy })));
    expect(err.input).toBe("traffic-policy");
    expect(err.message).toContain(`\`${input}\``);
    expect(err.message).toContain(type);
  });

  test("an action of another kind is no conflict", () => {
    const trafficPolicy = {
      on_http_request: [{ actions: [{ type: "oauth", config: { provider: "google" } }] }],
    };
    expect(() =>
      buildTrafficPolicy(with_({ basicAuth: { username: "u", password: "password1" }, trafficPolicy })),
    ).not.toThrow();
  });

  test("the old inbound/outbound format cannot be merged", () => {
    const err = configError(() =>
      buildTrafficPolicy(with_({ allowCidrs: ["10.0.0.0/8"], trafficPolicy: { inbound: [userRule] } })),
    );
    expect(err.message).toContain("on_http_request");
  });

  test("a phase that is not a list of rules is rejected", () => {
    const err = configError(() =>
      buildTrafficPolicy(with_({ trafficPolicy: { on_http_request: { actions: [] } } })),
    );
    expect(err.message).toContain("on_http_request");
  });
});

describe("the free plan's 5 rules", () => {
  const rules = (n: number) =>
    Array.from({ length: n }, (_, i) => ({ name: `r${i}`, actions: [{ type: "log" }] }));

  test("5 in total is fine", () => {
    const oauth = { provider: "google", allowEmails: ["a@b.c"], allowDomains: [] };
    const policy = buildTrafficPolicy(with_({ oauth, trafficPolicy: { on_http_request: rules(3) } }));
    expect((policy?.on_http_request as unknown[] | undefined)?.length).toBe(5);
  });

  test("6 is an error naming the inputs and the counts", () => {
    const oauth = { provider: "google", allowEmails: ["a@b.c"], allowDomains: [] };
    const trafficPolicy = { on_http_request: rules(2), on_http_response: rules(2) };
    const err = configError(() => buildTrafficPolicy(with_({ oauth, trafficPolicy })));
    expect(err.input).toBe("traffic-policy");
    expect(err.message).toContain("6 rules");
    expect(err.message).toContain("traffic-policy has 4");
    expect(err.message).toContain("oauth-provider");
    expect(err.message).toContain("add 2");
  });

  test("a raw policy alone over the limit is an error too", () => {
    const err = configError(() =>
      buildTrafficPolicy(with_({ trafficPolicy: { on_http_request: rules(6) } })),
    );
    expect(err.message).toContain("traffic-policy has 6");
  });
});

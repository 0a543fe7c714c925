import { describe, expect, test } from "vitest";
import { buildTrafficPolicy, celString, countRules, ruleLimitWarning } from "../../src/config/policy.js";
import type { Protection } from "../../src/config/types.js";
import { ConfigError } from "../../src/errors.js";

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
        expressions: ["!(actions.ngrok.oauth.identity.email.lowerAscii() in ['a@x.io', 'b@y.io'])"],
        actions: [{ type: "deny", config: { status_code: 403 } }],
      },
    ]);
  });

  test("oauth with allowed domains checks the email's ending, with or without a leading @", () => {
    const oauth = { provider: "microsoft", allowEmails: [], allowDomains: ["acme.com", "@corp.example"] };
    const rules = buildTrafficPolicy(with_({ oauth }))?.on_http_request as Record<string, unknown>[];
    expect(rules[1]?.expressions).toEqual([
      "!(actions.ngrok.oauth.identity.email.lowerAscii().endsWith('@acme.com') || " +
        "actions.ngrok.oauth.identity.email.lowerAscii().endsWith('@corp.example'))",
    ]);
  });

  test("IP check and the sign-in share one rule, IP check first; allow-list second", () => {
    const policy = buildTrafficPolicy({
      allowCidrs: ["10.0.0.0/8"],
      oauth: { provider: "gitlab", allowEmails: ["a@b.c"], allowDomains: [] },
    });
    const rules = policy?.on_http_request as { actions: { type: string }[] }[];
    expect(rules).toHaveLength(2);
    expect(rules[0]?.actions.map((a) => a.type)).toEqual(["restrict-ips", "oauth"]);
    expect(rules[1]?.actions.map((a) => a.type)).toEqual(["deny"]);
  });

  test("e-mails and domains are matched without regard to case", () => {
    const oauth = { provider: "google", allowEmails: ["Ada@Example.com"], allowDomains: ["Corp.Example"] };
    const rules = buildTrafficPolicy(with_({ oauth }))?.on_http_request as Record<string, unknown>[];
    expect(rules[1]?.expressions).toEqual([
      "!(actions.ngrok.oauth.identity.email.lowerAscii() in ['ada@example.com'] || " +
        "actions.ngrok.oauth.identity.email.lowerAscii().endsWith('@corp.example'))",
    ]);
  });

  test("a custom OAuth app goes into the oauth action as client_id / client_secret", () => {
    const oauth = {
      provider: "amazon",
      clientId: "amzn1.app.x",
      clientSecret: "s3cr3t-client",
      allowEmails: ["a@b.c"],
      allowDomains: [],
    };
    const rules = buildTrafficPolicy(with_({ oauth }))?.on_http_request as { actions: unknown[] }[];
    expect(rules[0]?.actions).toEqual([
      {
        type: "oauth",
        config: { provider: "amazon", client_id: "amzn1.app.x", client_secret: "s3cr3t-client" },
      },
    ]);
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
  ] as const)(
    "any auth action of the user's beside %s is refused: one auth action per endpoint",
    (input, protection) => {
      for (const type of ["basic-auth", "oauth", "oidc", "saml", "jwt-validation"]) {
        const trafficPolicy = { on_http_request: [{ actions: [{ type, config: {} }] }] };
        const err = configError(() => buildTrafficPolicy(with_({ ...protection, trafficPolicy })));
        expect(err.input).toBe("traffic-policy");
        expect(err.message).toContain(`\`${input}\``);
        expect(err.message).toContain(`\`${type}\``);
        expect(err.message).toContain("ERR_NGROK_2239");
      }
    },
  );

  test("the user's own restrict-ips beside allow-cidrs is a conflict", () => {
    const trafficPolicy = { on_http_request: [{ actions: [{ type: "restrict-ips", config: {} }] }] };
    const err = configError(() => buildTrafficPolicy(with_({ allowCidrs: ["10.0.0.0/8"], trafficPolicy })));
    expect(err.message).toContain("`allow-cidrs`");
  });

  test("basic-auth and oauth-provider together are refused, naming both inputs", () => {
    const err = configError(() =>
      buildTrafficPolicy(
        with_({
          basicAuth: { username: "u", password: "password1" },
          oauth: { provider: "google", allowEmails: ["a@b.c"], allowDomains: [] },
        }),
      ),
    );
    expect(err.input).toBe("basic-auth");
    expect(err.message).toMatch(/basic-auth and oauth-provider.*one sign-in.*ERR_NGROK_2239.*allow-cidrs/s);
  });

  test("two auth actions in the raw policy alone are refused too", () => {
    const trafficPolicy = {
      on_http_request: [
        { actions: [{ type: "basic-auth" }, { type: "oauth", config: { provider: "google" } }] },
      ],
    };
    expect(configError(() => buildTrafficPolicy(with_({ trafficPolicy }))).message).toContain(
      "2 auth actions",
    );
  });

  test("an on_tcp_connect forward beside a protection input is refused: it would bypass the protection", () => {
    const trafficPolicy = {
      on_tcp_connect: [{ actions: [{ type: "forward-internal", config: { url: "https://x.internal" } }] }],
    };
    const err = configError(() => buildTrafficPolicy(with_({ allowCidrs: ["10.0.0.0/8"], trafficPolicy })));
    expect(err.message).toMatch(/on_tcp_connect.*forward-internal.*allow-cidrs/s);
    // Without a protection input it is the user's own routing.
    expect(() => buildTrafficPolicy(with_({ trafficPolicy }))).not.toThrow();
    // Other on_tcp_connect actions (a stricter IP check, set-vars) cannot bypass anything.
    const other = { on_tcp_connect: [{ actions: [{ type: "set-vars", config: { vars: [] } }] }] };
    expect(() =>
      buildTrafficPolicy(with_({ allowCidrs: ["10.0.0.0/8"], trafficPolicy: other })),
    ).not.toThrow();
  });

  test("an action of another kind is no conflict", () => {
    const trafficPolicy = {
      on_http_request: [{ actions: [{ type: "rate-limit", config: { capacity: 10 } }] }],
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

describe("the free plan's 5 rules: a warning, never a refusal (paid plans allow more)", () => {
  const rules = (n: number) =>
    Array.from({ length: n }, (_, i) => ({ name: `r${i}`, actions: [{ type: "log" }] }));

  test("5 in total: no warning", () => {
    const oauth = { provider: "google", allowEmails: ["a@b.c"], allowDomains: [] };
    const policy = buildTrafficPolicy(with_({ oauth, trafficPolicy: { on_http_request: rules(3) } }));
    expect((policy?.on_http_request as unknown[] | undefined)?.length).toBe(5);
    expect(ruleLimitWarning(policy)).toBeUndefined();
  });

  test("6 binds as asked, with a warning naming the count and ngrok's code", () => {
    const oauth = { provider: "google", allowEmails: ["a@b.c"], allowDomains: [] };
    const trafficPolicy = { on_http_request: rules(2), on_http_response: rules(2) };
    const policy = buildTrafficPolicy(with_({ oauth, trafficPolicy }));
    expect(countRules(policy!)).toBe(6);
    expect(ruleLimitWarning(policy)).toMatch(/6 rules.*free plan allows 5.*ERR_NGROK_2264/s);
  });
});

/**
 * What ngrok's edge does with a visitor's HTTP request before it reaches the agent: the plan's own pages
 * (endpoint offline, account out of quota, the free plan's browser interstitial) and the endpoint's
 * `on_http_request` rules. Enforced: restrict-ips (403, ERR_NGROK_3205), basic-auth (401 with
 * WWW-Authenticate), oauth (302 to the provider's sign-in; a test signs in by sending OAUTH_TEST_EMAIL_HEADER,
 * which stands for ngrok's session cookie), deny and custom-response; the other actions pass the request on.
 * Expressions are evaluated by CEL on the request's variables.
 */
import { type CompiledPolicy, inCidr, interpolate } from "./policy.js";

/** Test-only: the e-mail of the visitor's signed-in OAuth identity. Never forwarded to the app. */
export const OAUTH_TEST_EMAIL_HEADER = "x-loopback-edge-oauth-email";

export interface RequestHead {
  readonly method: string;
  readonly target: string;
  readonly version: string;
  /** Header lines as sent (name, value), in order. */
  readonly headers: readonly [string, string][];
  /** Bytes after the head (the start of the body) that came with it. */
  readonly rest: Buffer;
}

/** The head of an HTTP/1.x request once `\r\n\r\n` has arrived; undefined while incomplete. */
export function parseHead(buffer: Buffer): RequestHead | undefined | "bad" {
  const end = buffer.indexOf("\r\n\r\n");
  if (end < 0) return buffer.length > 64 * 1024 ? "bad" : undefined;
  const [requestLine = "", ...lines] = buffer.subarray(0, end).toString("latin1").split("\r\n");
  const [method, target, version] = requestLine.split(" ");
  if (!method || !target || !version?.startsWith("HTTP/1.")) return "bad";
  const headers = lines.map((line): [string, string] => {
    const colon = line.indexOf(":");
    return [line.slice(0, colon).trim(), line.slice(colon + 1).trim()];
  });
  return { method, target, version, headers, rest: buffer.subarray(end + 4) };
}

const header = (head: RequestHead, name: string) => head.headers.find(([n]) => n.toLowerCase() === name)?.[1];

/** The head re-serialised for the agent: without the test-only header, and one request per connection. */
export function forwardedHead(head: RequestHead): Buffer {
  const upgrade = header(head, "upgrade") !== undefined;
  const kept = head.headers.filter(([n]) => {
    const lower = n.toLowerCase();
    return lower !== OAUTH_TEST_EMAIL_HEADER && (upgrade || lower !== "connection");
  });
  // Closing after one answer keeps every request of a keep-alive client going through the rules.
  if (!upgrade) kept.push(["Connection", "close"]);
  const lines = [`${head.method} ${head.target} ${head.version}`, ...kept.map(([n, v]) => `${n}: ${v}`)];
  return Buffer.concat([Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1"), head.rest]);
}

/** A complete HTTP response the edge itself sends, then closes. */
export function edgeResponse(status: number, body: string, headers: Record<string, string> = {}): Buffer {
  const reason = REASONS[status] ?? "Status";
  const all = {
    "content-type": "text/html",
    ...headers,
    "content-length": String(Buffer.byteLength(body)),
    connection: "close",
  };
  const lines = [`HTTP/1.1 ${status} ${reason}`, ...Object.entries(all).map(([n, v]) => `${n}: ${v}`)];
  return Buffer.from(`${lines.join("\r\n")}\r\n\r\n${body}`);
}

const REASONS: Record<number, string> = {
  200: "OK",
  302: "Found",
  401: "Unauthorized",
  402: "Payment Required",
  403: "Forbidden",
  404: "Not Found",
  429: "Too Many Requests",
  509: "Bandwidth Limit Exceeded",
};

/** ngrok's own error page: the `ngrok-error-code` header and the code in the page. */
export function ngrokErrorPage(status: number, code: number, text: string): Buffer {
  return edgeResponse(status, `<html><body><h1>${text}</h1><p>ERR_NGROK_${code}</p></body></html>`, {
    "ngrok-error-code": `ERR_NGROK_${code}`,
  });
}

/** The free plan's interstitial for browsers (https://ngrok.com/docs/pricing-limits/free-plan-limits/). */
export function needsInterstitial(head: RequestHead): boolean {
  if (header(head, "ngrok-skip-browser-warning") !== undefined) return false;
  const agent = header(head, "user-agent") ?? "";
  return /Mozilla\/|Chrome\/|Safari\/|Firefox\//.test(agent);
}

export const INTERSTITIAL = () =>
  edgeResponse(
    200,
    "<html><body>You are about to visit a site served by ngrok. <button>Visit Site</button></body></html>",
  );

/** The variables of one request (https://ngrok.com/docs/traffic-policy/variables/). */
function requestVars(head: RequestHead, clientIp: string, endpointUrl: string): Record<string, unknown> {
  const url = new URL(head.target, endpointUrl);
  const headers: Record<string, string[]> = {};
  for (const [n, v] of head.headers) headers[n.toLowerCase()] = [...(headers[n.toLowerCase()] ?? []), v];
  return {
    req: {
      method: head.method,
      host: url.host,
      headers,
      user_agent: { raw: header(head, "user-agent") ?? "" },
      url: {
        path: url.pathname,
        raw: url.href,
        raw_path: url.pathname,
        query: url.search.replace(/^\?/, ""),
        host: url.hostname,
        scheme: url.protocol.replace(":", ""),
      },
    },
    conn: { client_ip: clientIp.replace(/^::ffff:/, ""), server_port: Number(url.port) },
    endpoint: { url: endpointUrl },
    actions: { ngrok: {} as Record<string, unknown> },
    vars: {},
  };
}

/** Run the endpoint's on_http_request rules: the response to send, or undefined to pass the request on. */
export function runRequestRules(
  policy: CompiledPolicy,
  head: RequestHead,
  clientIp: string,
  endpointUrl: string,
): Buffer | undefined {
  const vars = requestVars(head, clientIp, endpointUrl);
  const results = (vars.actions as { ngrok: Record<string, unknown> }).ngrok;
  for (const rule of policy.on_http_request ?? []) {
    const matched = rule.expressions.every((expression) => {
      const result = expression(vars);
      if (result instanceof Error) throw result;
      return result === true;
    });
    if (!matched) continue;
    for (const action of rule.actions) {
      const answer = ACTION_RUNNERS[action.type]?.(action.config, head, vars, results);
      if (answer) return answer;
    }
  }
  return undefined;
}

type Runner = (
  config: Record<string, unknown>,
  head: RequestHead,
  vars: Record<string, unknown>,
  results: Record<string, unknown>,
) => Buffer | undefined;

const ACTION_RUNNERS: Record<string, Runner> = {
  "restrict-ips": (config, _head, vars) => {
    const ip = (vars.conn as { client_ip: string }).client_ip;
    const allow = (config.allow as string[] | undefined) ?? [];
    const deny = (config.deny as string[] | undefined) ?? [];
    const permitted =
      (allow.length === 0 || allow.some((c) => inCidr(ip, c))) && !deny.some((c) => inCidr(ip, c));
    if (permitted || config.enforce === false) return undefined;
    return ngrokErrorPage(403, 3205, "Request blocked by Endpoints IP Restriction");
  },
  "basic-auth": (config, head, vars, results) => {
    const given = /^Basic\s+(.+)$/i.exec(header(head, "authorization") ?? "")?.[1];
    const decoded = given ? Buffer.from(given, "base64").toString("utf8") : undefined;
    const credentials = (config.credentials as string[]).map((c) => interpolate(c, vars));
    const authorized = decoded !== undefined && credentials.includes(decoded);
    results.basic_auth = {
      credentials: { presented: decoded !== undefined, username: decoded?.split(":")[0] ?? "", authorized },
    };
    if (authorized || config.enforce === false) return undefined;
    const realm = typeof config.realm === "string" ? config.realm : "ngrok";
    return edgeResponse(401, "Unauthorized", { "www-authenticate": `Basic realm="${realm}"` });
  },
  oauth: (config, head, _vars, results) => {
    const email = header(head, OAUTH_TEST_EMAIL_HEADER);
    if (email === undefined) {
      const location = `https://idp.ngrok.com/oauth2/authorize?provider=${String(config.provider)}`;
      return edgeResponse(302, "", { location });
    }
    results.oauth = { identity: { email, name: email.split("@")[0], provider_user_id: email } };
    return undefined;
  },
  deny: (config) => edgeResponse((config.status_code as number | undefined) ?? 403, "Forbidden"),
  "custom-response": (config, _head, vars) => {
    const headers = (config.headers as Record<string, string> | undefined) ?? {};
    const body = typeof config.body === "string" ? interpolate(config.body, vars) : "";
    return edgeResponse((config.status_code as number | undefined) ?? 200, body, headers);
  },
};

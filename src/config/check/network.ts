import { isIP } from "node:net";
import { ConfigError } from "../../errors.js";

/** An IPv4/IPv6 address or CIDR block, as ngrok's restrict-ips action takes them. */
export function cidr(raw: string): string {
  const [addr = "", prefix, ...rest] = raw.split("/");
  const family = isIP(addr);
  const max = family === 4 ? 32 : 128;
  const bits = prefix === undefined ? max : /^\d+$/.test(prefix) ? Number(prefix) : Number.NaN;
  if (family === 0 || rest.length > 0 || !(bits >= 0 && bits <= max)) {
    throw new ConfigError(
      "allow-cidrs",
      `allow-cidrs entry "${raw}" is not an IP address or CIDR block. Use forms like 203.0.113.0/24, 198.51.100.7 or 2001:db8::/32.`,
    );
  }
  return prefix === undefined ? `${addr}/${max}` : raw;
}

export function hostPort(raw: string): string {
  const m = /^([A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\]):(\d{1,5})$/.exec(raw.trim());
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) {
    throw new ConfigError(
      "ngrok-server-addr",
      `ngrok-server-addr "${raw}" must be host:port of your dedicated agent ingress, e.g. connect.example.com:443.`,
    );
  }
  return raw.trim();
}

const LABEL = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
const DOMAIN = new RegExp(`^(?:${LABEL}\\.)+[a-z][a-z0-9-]*[a-z0-9]$`);
const isDomain = (text: string) => DOMAIN.test(text.toLowerCase());

export function domain(input: "ngrok-domain" | "oauth-allow-domains", raw: string): string {
  const text = raw.trim().toLowerCase().replace(/^@/, "");
  if (!isDomain(text)) {
    throw new ConfigError(
      input,
      `${input} entry "${raw}" is not a domain name. Use a name like example.com${input === "ngrok-domain" ? " or my-app.ngrok.app" : ""}, without a scheme or path.`,
    );
  }
  return text;
}

export function email(raw: string): string {
  const text = raw.trim();
  const at = text.lastIndexOf("@");
  if (at < 1 || /\s|,/.test(text) || text.indexOf("@") !== at || !isDomain(text.slice(at + 1))) {
    throw new ConfigError(
      "oauth-allow-emails",
      `oauth-allow-emails entry "${raw}" is not an email address. List addresses like ada@example.com, separated by commas or new lines.`,
    );
  }
  return text.toLowerCase();
}

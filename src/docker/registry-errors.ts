/** What went wrong talking to a registry, from the engine's error text (it gives no codes). */
export type RegistryProblem = "unreachable" | "not-found" | "unauthorized" | "other";

const UNREACHABLE = [
  /no such host/i,
  /connection refused/i,
  /i\/o timeout/i,
  /network is unreachable/i,
  /no route to host/i,
  /TLS handshake timeout/i,
  /Client\.Timeout exceeded/i,
  /request canceled while waiting for connection/i,
  /context deadline exceeded/i,
  /server misbehaving/i,
  /connection reset by peer/i,
  /proxyconnect/i,
  /x509: certificate/i,
];
const NOT_FOUND = [/manifest unknown/i, /not found/i, /repository does not exist/i, /no matching manifest/i];
const UNAUTHORIZED = [
  /unauthorized/i,
  /authentication required/i,
  /no basic auth credentials/i,
  /incorrect username or password/i,
  /denied/i,
  /forbidden/i,
];

export function registryProblem(message: string): RegistryProblem {
  if (UNREACHABLE.some((re) => re.test(message))) return "unreachable";
  // "pull access denied ... repository does not exist or may require 'docker login'" is Docker Hub's
  // answer for both a missing and a private image: it reads as not-found first, auth second.
  if (NOT_FOUND.some((re) => re.test(message))) return "not-found";
  if (UNAUTHORIZED.some((re) => re.test(message))) return "unauthorized";
  return "other";
}

/** The host the engine failed to reach, when its message names one (`Get "https://ghcr.io/v2/"`, `lookup x`). */
export function hostInMessage(message: string): string | undefined {
  return (
    /https?:\/\/([^/"\s]+)/.exec(message)?.[1] ??
    /lookup ([^\s:]+)/.exec(message)?.[1] ??
    /dial tcp ([^\s:]+:\d+)/.exec(message)?.[1]
  );
}

/** The short cause at the end of a Go error chain: `dial tcp: lookup x on y: no such host` → `no such host`. */
export function shortCause(message: string): string {
  const parts = message
    .trim()
    .split(/:\s+/)
    .filter((p) => p.length > 0);
  return parts[parts.length - 1] ?? message;
}

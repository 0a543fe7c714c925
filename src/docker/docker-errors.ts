/** What the engine said, from a docker-modem error ("(HTTP code 500) server error - <message>"). */
export function engineMessage(err: unknown): string {
  const e = err as { json?: { message?: unknown }; message?: unknown };
  if (typeof e?.json?.message === "string") return e.json.message.trim();
  const text = typeof e?.message === "string" ? e.message : String(err);
  return text.replace(/^\(HTTP code \d+\)\s+[^-]*-\s*/, "").trim();
}

export function statusCode(err: unknown): number | undefined {
  const code = (err as { statusCode?: unknown })?.statusCode;
  return typeof code === "number" ? code : undefined;
}

/** 404: the container is already gone; 409: its removal is already in progress. */
export function isGone(err: unknown): boolean {
  const code = statusCode(err);
  return code === 404 || (code === 409 && /removal .*in progress/i.test(engineMessage(err)));
}

/**
 * The engine is not there: the request found no socket, was refused, or its connection broke off (a reset,
 * node's "aborted") — no HTTP status at all. Not the request's fault.
 */
export function engineAway(err: unknown): boolean {
  if (statusCode(err) !== undefined) return false;
  const code = (err as { code?: unknown })?.code;
  return (
    (typeof code === "string" &&
      /^(ENOENT|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH)$/.test(code)) ||
    /socket hang up|ECONNRESET|ECONNREFUSED|ENOENT|EPIPE|^aborted$/.test(engineMessage(err))
  );
}

/** Why a removal failed, for its error: the engine's own words, or that it did not answer within the patience. */
export function removalWhy(err: unknown, patienceMs: number): string {
  if (!engineAway(err)) return engineMessage(err);
  const waited = patienceMs > 0 ? ` for ${Math.round(patienceMs / 1000)} s` : "";
  return `the Docker engine did not answer${waited} (${engineMessage(err)})`;
}

/** Where the engine is expected, as the docker CLI would name it. */
export function engineAddress(): string {
  return process.env.DOCKER_HOST || "unix:///var/run/docker.sock";
}

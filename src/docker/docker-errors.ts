/** What the engine said, from a docker-modem error ("(HTTP code 500) server error - <message>"). */
export function engineMessage(err: unknown): string {
  const e = err as { json?: { message?: unknown }; message?: unknown };
  if (typeof e?.json?.message === "string") return e.json.message.trim();
  return String(e?.message ?? err).trim();
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

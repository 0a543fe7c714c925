import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";

export type HttpAnswer =
  | { readonly status: number; readonly headers: Readonly<Record<string, string | string[] | undefined>> }
  | { readonly silent: true }
  | { readonly silent?: false; readonly error: string };

/**
 * One GET, on a connection of its own that is closed as soon as the status line and headers are in: the
 * status and headers; `silent` when the connection was taken but no answer came within `timeoutMs` (a hung
 * or paused app, through Docker's port proxy); else the connection error's code. No agent and no pool: a
 * kept-alive socket would hide a restart, and a response nobody reads to the end must not keep its socket
 * (half-closed by the other side, it would sit in CLOSE-WAIT for the life of the process).
 */
export function httpAnswer(
  url: URL,
  timeoutMs: number,
  signal: AbortSignal,
  headers: Record<string, string> = { "user-agent": "ml-preview" },
): Promise<HttpAnswer> {
  return new Promise((resolve) => {
    const request = url.protocol === "https:" ? httpsRequest : httpRequest;
    const req = request(url, { method: "GET", agent: false, signal, headers });
    req.setTimeout(timeoutMs, () => {
      req.destroy();
      resolve({ silent: true });
    });
    req.once("response", (res) => {
      res.destroy();
      req.destroy();
      resolve({ status: res.statusCode ?? 0, headers: res.headers });
    });
    req.once("error", (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    req.end();
  });
}

import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";

export type HttpAnswer =
  | {
      readonly status: number;
      readonly headers: Readonly<Record<string, string | string[] | undefined>>;
      /** An error page's first bytes, when asked for (`errorBodyBytes`). */
      readonly body?: string;
    }
  | { readonly silent: true }
  | { readonly silent?: false; readonly error: string };

/**
 * One GET, on a connection of its own that is closed as soon as the status line and headers are in: the
 * status and headers; `silent` when the connection was taken but no answer came within `timeoutMs` (a hung
 * or paused app, through Docker's port proxy); else the connection error's code. No agent and no pool: a
 * kept-alive socket would hide a restart, and a response nobody reads to the end must not keep its socket
 * (half-closed by the other side, it would sit in CLOSE-WAIT for the life of the process).
 */
/** How long a probe's response body may take to be read to its end before the connection is cut. */
const BODY_DRAIN_MS = 2_000;

export function httpAnswer(
  url: URL,
  timeoutMs: number,
  signal: AbortSignal,
  headers: Record<string, string> = { "user-agent": "ml-preview" },
  /** For a status of 400 or more, read this much of the body into the answer (ngrok prints its code there). */
  errorBodyBytes = 0,
): Promise<HttpAnswer> {
  return new Promise((resolve) => {
    const request = url.protocol === "https:" ? httpsRequest : httpRequest;
    const req = request(url, { method: "GET", agent: false, signal, headers });
    req.setTimeout(timeoutMs, () => {
      req.destroy();
      resolve({ silent: true });
    });
    req.once("response", (res) => {
      const status = res.statusCode ?? 0;
      if (errorBodyBytes > 0 && status >= 400) {
        let body = "";
        const done = () => {
          resolve({ status, headers: res.headers, body: body.slice(0, errorBodyBytes) });
          req.destroy();
        };
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          if (body.length < errorBodyBytes) body += chunk;
        });
        res.once("end", done);
        res.once("close", done);
      } else resolve({ status, headers: res.headers });
      // Read a short body to its end so the connection closes with a FIN, not a reset: through a tunnel a
      // visitor's reset races the agent's own close of its upstream socket, which then sits in CLOSE-WAIT.
      // A body that goes on (a stream, a big page) is cut after a moment all the same.
      const cut = setTimeout(() => req.destroy(), BODY_DRAIN_MS).unref();
      res.on("end", () => {
        clearTimeout(cut);
        req.destroy();
      });
      res.on("error", () => clearTimeout(cut));
      res.resume();
    });
    req.once("error", (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    req.end();
  });
}

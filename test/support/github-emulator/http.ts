import type { IncomingMessage, ServerResponse } from "node:http";
import type { Reply } from "./replies.js";

// GitHub rejects larger request bodies; the emulator only needs to stay bounded.
const maxRequestBytes = 10 * 1024 * 1024;

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxRequestBytes) throw new Error("request body too large");
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** `undefined` for an empty body; throws on bad JSON. */
export function parseJson(text: string): unknown {
  return text.trim() === "" ? undefined : JSON.parse(text);
}

/** Writes a reply with GitHub's common headers under the route's own (the route's win). */
export function send(res: ServerResponse, reply: Reply, common: Record<string, string>): void {
  const headers: Record<string, string> = { ...common, ...reply.headers };
  if (reply.body === undefined) {
    res.writeHead(reply.status, headers).end();
    return;
  }
  const text = typeof reply.body === "string";
  headers["content-type"] = text ? "text/html; charset=utf-8" : "application/json; charset=utf-8";
  res.writeHead(reply.status, headers).end(text ? reply.body : JSON.stringify(reply.body));
}

import type { Socket } from "node:net";
import type { AgentSession } from "./agent-session.js";
import { FrontServer } from "./front.js";
import type { MuxStream } from "./mux-stream.js";
import type { CompiledPolicy } from "./policy.js";
import {
  edgeResponse,
  forwardedHead,
  INTERSTITIAL,
  needsInterstitial,
  ngrokErrorPage,
  parseHead,
  type RequestHead,
  runRequestRules,
} from "./visitor-gate.js";

export interface Endpoint {
  readonly id: string;
  owner: AgentSession;
  policy?: CompiledPolicy;
  pooling: boolean;
  readonly port: number;
}

/** What the whole account's visitors meet, set by the edge (plan mode, visitor-side errors on demand). */
export interface VisitorRules {
  interstitial: boolean;
  /** ngrok's page for the account (quota, credit, ban) instead of any endpoint. */
  accountError?: { status: number; code: number; text: string };
}

/**
 * Online endpoints by tunnel Id, and the URLs (front ports) they are reachable at. A URL outlives its
 * endpoint: after an unbind, a lost session or an edge-side loss it answers ngrok's offline page
 * (ERR_NGROK_3200), and the SDK's re-bind with the same Id after a reconnect gets the same URL back.
 */
export class Endpoints {
  private readonly online = new Map<string, Endpoint>();
  private readonly portOfId = new Map<string, number>();
  private readonly fronts = new Map<number, FrontServer>();

  constructor(private readonly rules: () => VisitorRules) {}

  /** The URL port this endpoint would get: its old one, else `shared` (a free dev domain), else new. */
  portFor(id: string, shared?: number): number | undefined {
    return this.portOfId.get(id) ?? shared;
  }

  /** The endpoint online at a port other than `id`, if any (a second bind of one URL). */
  holderOf(port: number, id: string): Endpoint | undefined {
    for (const endpoint of this.online.values())
      if (endpoint.port === port && endpoint.id !== id) return endpoint;
    return undefined;
  }

  async bind(
    id: string,
    owner: AgentSession,
    opts: { policy?: CompiledPolicy; pooling: boolean; port?: number },
  ): Promise<number> {
    const port = await this.front(opts.port ?? this.portOfId.get(id) ?? 0);
    this.portOfId.set(id, port);
    this.online.set(id, { id, owner, policy: opts.policy, pooling: opts.pooling, port });
    return port;
  }

  unbind(id: string): void {
    this.online.delete(id);
  }

  sessionEnded(session: AgentSession): void {
    for (const endpoint of [...this.online.values()]) {
      if (endpoint.owner !== session) continue;
      this.online.delete(endpoint.id);
      this.fronts.get(endpoint.port)?.cutVisitors();
    }
  }

  active(): number {
    return this.online.size;
  }

  /** Every endpoint goes offline (its URL answers 3200); with `closeFronts`, the URLs go too. */
  closeAll(closeFronts = false): void {
    for (const endpoint of this.online.values()) this.fronts.get(endpoint.port)?.cutVisitors();
    this.online.clear();
    if (!closeFronts) return;
    for (const front of this.fronts.values()) front.close();
    this.fronts.clear();
  }

  private async front(port: number): Promise<number> {
    const known = this.fronts.get(port);
    if (known?.isListening) return port;
    let front: FrontServer;
    try {
      front = await FrontServer.open((visitor) => this.visit(visitor, () => front.port), port);
    } catch {
      // The old port was taken meanwhile: a new one beats failing the re-bind.
      front = await FrontServer.open((visitor) => this.visit(visitor, () => front.port), 0);
    }
    this.fronts.set(front.port, front);
    return front.port;
  }

  /** One visitor connection: read the request head, then answer for ngrok or hand it to the agent. */
  private visit(visitor: Socket, port: () => number): void {
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const head = parseHead(buffered);
      if (head === undefined) return;
      visitor.off("data", onData);
      visitor.off("end", onEnd);
      if (head === "bad") visitor.end(edgeResponse(400, "Bad Request"));
      else this.route(visitor, head, buffered, port());
    };
    const onEnd = () => visitor.end();
    visitor.on("data", onData);
    visitor.on("end", onEnd);
  }

  private route(visitor: Socket, head: RequestHead, raw: Buffer, port: number): void {
    const endpoint = [...this.online.values()].find((e) => e.port === port);
    const rules = this.rules();
    const answer = !endpoint
      ? ngrokErrorPage(404, 3200, "The endpoint is offline.")
      : rules.accountError
        ? ngrokErrorPage(rules.accountError.status, rules.accountError.code, rules.accountError.text)
        : rules.interstitial && needsInterstitial(head)
          ? INTERSTITIAL()
          : endpoint.policy
            ? gate(endpoint.policy, head, visitor, port)
            : undefined;
    if (answer) {
      visitor.end(answer);
      return;
    }
    const stream = endpoint?.owner.openProxy(endpoint.id, visitor);
    if (!stream) {
      visitor.end(ngrokErrorPage(404, 3200, "The endpoint is offline."));
      return;
    }
    if (!endpoint?.policy) {
      stream.write(raw);
      pipeVisitor(visitor, stream);
      return;
    }
    // Under a policy each request passes the rules: only this request's body follows its head, and the
    // app closes after answering (forwardedHead), so a pipelined second request never slips through.
    const limit = bodyLength(head);
    stream.write(
      Buffer.concat([forwardedHead({ ...head, rest: Buffer.alloc(0) }), head.rest.subarray(0, limit)]),
    );
    pipeVisitor(visitor, stream, limit - Math.min(limit, head.rest.length));
  }
}

/** How many body bytes follow a request head: Content-Length, all of them when chunked or upgraded. */
function bodyLength(head: RequestHead): number {
  const value = (name: string) => head.headers.find(([n]) => n.toLowerCase() === name)?.[1];
  if (value("transfer-encoding") !== undefined || value("upgrade") !== undefined)
    return Number.POSITIVE_INFINITY;
  const length = Number(value("content-length") ?? 0);
  return Number.isFinite(length) && length > 0 ? length : 0;
}

/** The endpoint's rules for this request; an expression that fails to evaluate is ngrok's error. */
function gate(policy: CompiledPolicy, head: RequestHead, visitor: Socket, port: number): Buffer | undefined {
  try {
    return runRequestRules(policy, head, visitor.remoteAddress ?? "127.0.0.1", `http://127.0.0.1:${port}`);
  } catch (err) {
    return ngrokErrorPage(
      500,
      2253,
      `Failed to evaluate CEL expression at runtime: ${(err as Error).message}`,
    );
  }
}

/** Bytes both ways; at most `limit` more bytes from the visitor (the rest is dropped). */
function pipeVisitor(visitor: Socket, stream: MuxStream, limit = Number.POSITIVE_INFINITY): void {
  let left = limit;
  visitor.on("data", (chunk: Buffer) => {
    const passed = left >= chunk.length ? chunk : chunk.subarray(0, left);
    left -= passed.length;
    if (passed.length > 0 && !stream.write(passed)) visitor.pause();
  });
  stream.on("drain", () => visitor.resume());
  visitor.on("end", () => stream.end());
  // Grant the agent more window only once the visitor's socket has taken the bytes.
  stream.on("data", (chunk: Buffer) => {
    visitor.write(chunk, () => stream.consumed(chunk.length));
  });
  stream.on("end", () => visitor.end());
  stream.on("reset", () => visitor.destroy());
  visitor.on("error", () => stream.reset());
  visitor.on("close", () => {
    if (!stream.isClosed) stream.reset();
  });
}

import { createServer, type Server, type Socket } from "node:net";
import type { MuxStream } from "./mux-stream.js";

/** Opens the Proxy stream (preamble written) for one visitor; undefined when the agent is gone. */
export type OpenProxy = (visitor: Socket) => MuxStream | undefined;

/**
 * The "public" side of one bound endpoint: a plain TCP port on 127.0.0.1. Each visitor connection becomes
 * one Proxy stream to the agent, with bytes copied both ways under muxado flow control.
 */
export class FrontServer {
  private readonly visitors = new Set<Socket>();
  private readonly server: Server;
  private listening = false;
  private boundPort = 0;

  private constructor(openProxy: OpenProxy) {
    // Half-open: a visitor that shuts its write side must still get the whole response. No Nagle delay,
    // like the real (Go) edge's sockets.
    this.server = createServer({ allowHalfOpen: true, noDelay: true }, (visitor) => {
      this.visitors.add(visitor);
      visitor.on("close", () => this.visitors.delete(visitor));
      const stream = openProxy(visitor);
      if (stream) pipeVisitor(visitor, stream);
      else visitor.destroy();
    });
  }

  /** Listen on `port` if given (so a re-bind keeps its URL), else on a free one. */
  static async open(openProxy: OpenProxy, port = 0): Promise<FrontServer> {
    const front = new FrontServer(openProxy);
    await new Promise<void>((resolve, reject) => {
      front.server.once("error", reject);
      front.server.listen(port, "127.0.0.1", () => {
        front.server.off("error", reject);
        resolve();
      });
    });
    const address = front.server.address();
    front.boundPort = typeof address === "object" && address ? address.port : port;
    front.listening = true;
    return front;
  }

  get port(): number {
    return this.boundPort;
  }

  get isListening(): boolean {
    return this.listening;
  }

  /** Stop accepting visitors; with `cutVisitors`, also drop the ones in flight (the agent is gone). */
  close(cutVisitors = false): void {
    if (this.listening) {
      this.listening = false;
      this.server.close();
    }
    if (cutVisitors) for (const v of this.visitors) v.destroy();
  }
}

function pipeVisitor(visitor: Socket, stream: MuxStream): void {
  visitor.on("data", (chunk: Buffer) => {
    if (!stream.write(chunk)) visitor.pause();
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

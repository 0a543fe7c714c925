import { createServer, type Server, type Socket } from "node:net";

/**
 * The "public" side of one URL: a plain TCP port on 127.0.0.1 that stays open for the edge's life, like a
 * domain at ngrok's edge: while no endpoint is online there, visitors get ngrok's offline page. What each
 * visitor gets is the caller's decision (`onVisitor`).
 */
export class FrontServer {
  private readonly visitors = new Set<Socket>();
  private readonly server: Server;
  private listening = false;
  private boundPort = 0;

  private constructor(onVisitor: (visitor: Socket) => void) {
    // Half-open: a visitor that shuts its write side must still get the whole response. No Nagle delay,
    // like the real (Go) edge's sockets.
    this.server = createServer({ allowHalfOpen: true, noDelay: true }, (visitor) => {
      this.visitors.add(visitor);
      visitor.on("close", () => this.visitors.delete(visitor));
      visitor.on("error", () => {});
      onVisitor(visitor);
    });
  }

  /** Listen on `port` if given (so a re-bind keeps its URL), else on a free one. */
  static async open(onVisitor: (visitor: Socket) => void, port = 0): Promise<FrontServer> {
    const front = new FrontServer(onVisitor);
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

  /** Drop the visitors in flight (their endpoint's agent is gone). */
  cutVisitors(): void {
    for (const v of this.visitors) v.destroy();
  }

  close(): void {
    if (this.listening) {
      this.listening = false;
      this.server.close();
    }
    this.cutVisitors();
  }
}

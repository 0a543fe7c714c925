import type { AgentSession } from "./agent-session.js";
import { FrontServer } from "./front.js";

interface Endpoint {
  port: number;
  owner: AgentSession;
  front?: FrontServer;
}

/**
 * Bound endpoints by tunnel Id. A session's end closes its front ports but remembers them, because the SDK
 * re-binds with the same Id after reconnecting and keeps handing out the old URL: reopening the same port
 * keeps that URL working.
 */
export class Endpoints {
  private readonly byId = new Map<string, Endpoint>();

  async bind(id: string, owner: AgentSession): Promise<number> {
    const known = this.byId.get(id);
    if (known?.front?.isListening) {
      known.owner = owner;
      return known.port;
    }
    const front = await this.openFront(id, known?.port ?? 0);
    this.byId.set(id, { port: front.port, owner, front });
    return front.port;
  }

  unbind(id: string): void {
    this.byId.get(id)?.front?.close();
    this.byId.delete(id);
  }

  sessionEnded(session: AgentSession): void {
    for (const endpoint of this.byId.values()) {
      if (endpoint.owner !== session) continue;
      endpoint.front?.close(true);
      endpoint.front = undefined;
    }
  }

  active(): number {
    let n = 0;
    for (const endpoint of this.byId.values()) if (endpoint.front?.isListening) n++;
    return n;
  }

  closeAll(): void {
    for (const endpoint of this.byId.values()) endpoint.front?.close(true);
    this.byId.clear();
  }

  private async openFront(id: string, port: number): Promise<FrontServer> {
    const openProxy = (visitor: Parameters<AgentSession["openProxy"]>[1]) =>
      this.byId.get(id)?.owner.openProxy(id, visitor);
    try {
      return await FrontServer.open(openProxy, port);
    } catch {
      // The old port was taken meanwhile: a new one beats failing the re-bind.
      return FrontServer.open(openProxy, 0);
    }
  }
}

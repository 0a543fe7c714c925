import type { Reply } from "./replies.js";
import type { HeldRequest, RecordedRequest, RequestMatch } from "./types.js";

/** What a stall looks at: the request as it arrived. */
export interface StallProbe {
  method: string;
  /** With query, in /repos/{owner}/{repo}/... form. */
  path: string;
  token?: string;
  text: string;
}

function matches(m: RequestMatch | undefined, p: StallProbe): boolean {
  if (!m) return true;
  if (m.path) m.path.lastIndex = 0;
  if (m.body) m.body.lastIndex = 0;
  return (
    (m.method === undefined || m.method.toUpperCase() === p.method) &&
    (m.path === undefined || m.path.test(p.path)) &&
    (m.token === undefined || m.token === p.token) &&
    (m.body === undefined || m.body.test(p.text))
  );
}

interface Hold {
  match: RequestMatch;
  arrived: (r: RecordedRequest) => void;
  released: Promise<void>;
}

/**
 * Time faults: an outage (every request fails for a while), hanging requests (never answered, or not for a
 * while), latency, and single requests held until the test releases them. Applied before anything else.
 */
export class Stalls {
  private outageUntil = 0;
  private outageStatus = 500;
  private readonly hangs: Array<{ match?: RequestMatch; until: number }> = [];
  private readonly latencies: Array<{ match?: RequestMatch; ms: number }> = [];
  private readonly holds: Hold[] = [];

  outage(forMs: number, status = 500): void {
    this.outageUntil = Date.now() + forMs;
    this.outageStatus = status;
  }

  hang(match: RequestMatch | undefined, forMs = Number.POSITIVE_INFINITY): void {
    this.hangs.push({ match, until: Date.now() + forMs });
  }

  endHangs(): void {
    this.hangs.length = 0;
  }

  latency(ms: number, match?: RequestMatch): void {
    const i = this.latencies.findIndex((l) => l.match === match);
    if (i >= 0) this.latencies.splice(i, 1);
    if (ms > 0) this.latencies.push({ match, ms });
  }

  hold(match: RequestMatch): HeldRequest {
    let arrived!: (r: RecordedRequest) => void;
    let release!: () => void;
    const seen = new Promise<RecordedRequest>((resolve) => (arrived = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    this.holds.push({ match, arrived, released });
    return { arrived: seen, release };
  }

  /** Waits as the stalls say; a reply when the request is answered by an outage instead of its route. */
  async before(probe: StallProbe, recorded: RecordedRequest): Promise<Reply | undefined> {
    const now = Date.now();
    if (now < this.outageUntil) return { status: this.outageStatus, body: { message: "Server Error" } };
    const hang = this.hangs.find((h) => h.until > now && matches(h.match, probe));
    if (hang) {
      if (hang.until === Number.POSITIVE_INFINITY) await new Promise<never>(() => {});
      await sleep(hang.until - now);
    }
    for (const l of this.latencies) if (matches(l.match, probe)) await sleep(l.ms);
    const i = this.holds.findIndex((h) => matches(h.match, probe));
    if (i >= 0) {
      const [hold] = this.holds.splice(i, 1);
      hold!.arrived(recorded);
      await hold!.released;
    }
    return undefined;
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

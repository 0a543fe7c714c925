import { randomBytes } from "node:crypto";
import type { Socket } from "node:net";
import { createServer, type Server } from "node:tls";
import { AgentSession } from "./agent-session.js";
import { createEdgeCertificates } from "./certs.js";
import { Endpoints, type VisitorRules } from "./endpoints.js";
import { type BindRecord, bindRecord, bindReply, errorReply } from "./messages.js";
import { type CompiledPolicy, compilePolicy } from "./policy.js";

type Json = Record<string, unknown>;

interface PlannedFailure {
  errorCode: string;
  message: string;
  remaining: number;
}

export type PlanMode = "free" | "paid";

/** ngrok's per-plan facts (https://ngrok.com/docs/pricing-limits/free-plan-limits/). */
const PLAN = {
  free: { maxRules: 5, interstitial: true, sharedDevDomain: true },
  // ngrok publishes no paid cap here; a large one still refuses runaway policies the same way.
  paid: { maxRules: 50, interstitial: false, sharedDevDomain: false },
} as const;

/** Visitor-side pages ngrok shows when the account is out of something (https://ngrok.com/docs/errors/). */
const ACCOUNT_ERRORS: Record<number, { status: number; text: string }> = {
  725: { status: 509, text: "This ngrok account has reached its network bandwidth limit for the month." },
  727: { status: 429, text: "This ngrok account has reached its HTTP requests limit for the month." },
  734: { status: 429, text: "You have exceeded your limit of requests per minute." },
  4026: { status: 402, text: "Your account has run out of credit." },
  4027: { status: 509, text: "Your account's included bandwidth has been depleted." },
  3208: { status: 403, text: "The ngrok account that was hosting this webpage has been banned." },
};

/** The loopback stand-in for ngrok's agent ingress. See index.ts for the public contract. */
export class LoopbackEdge {
  readonly binds: BindRecord[] = [];
  readonly authAttempts: { authtoken: string; ok: boolean }[] = [];
  readonly caCert: string;
  private readonly server: Server;
  private readonly endpoints = new Endpoints(() => this.visitorRules);
  private visitorRules: VisitorRules;
  /** The account's dev domain (free plan): the only `domain` it may ask for. */
  readonly devDomain = "loopback-test.ngrok-free.app";
  /** The free plan's one dev domain: the URL (front port) every endpoint of the account shares. */
  private devDomainPort?: number;
  private readonly agents = new Set<AgentSession>();
  private readonly rawSockets = new Set<Socket>();
  private readonly failures: PlannedFailure[] = [];
  private refuseUntil = 0;
  private port = 0;

  constructor(
    private readonly authtoken: string,
    readonly plan: PlanMode = "paid",
  ) {
    this.visitorRules = { interstitial: PLAN[plan].interstitial };
    const certs = createEdgeCertificates();
    this.caCert = certs.caCert;
    this.server = createServer({ cert: certs.cert, key: certs.key });
    this.server.on("connection", (raw: Socket) => this.admit(raw));
    this.server.on("secureConnection", (socket) => this.accept(socket));
    // A client that gives up mid-handshake is not the edge's problem.
    this.server.on("tlsClientError", () => {});
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(0, "127.0.0.1", () => resolve());
    });
    const address = this.server.address();
    this.port = typeof address === "object" && address ? address.port : 0;
  }

  get serverAddr(): string {
    return `localhost:${this.port}`;
  }

  sessions(): number {
    let n = 0;
    for (const agent of this.agents) if (agent.authenticated) n++;
    return n;
  }

  activeListeners(): number {
    return this.endpoints.active();
  }

  failNextBinds(errorCode: string, message: string, count = 1): void {
    this.failures.push({ errorCode, message, remaining: count });
  }

  loseEndpoints(): void {
    this.endpoints.closeAll();
  }

  answerVisitorsWith(code: number | undefined): void {
    const page = code === undefined ? undefined : ACCOUNT_ERRORS[code];
    if (code !== undefined && !page) throw new Error(`no visitor-side page for ERR_NGROK_${code}`);
    this.visitorRules = { ...this.visitorRules, accountError: page && code ? { ...page, code } : undefined };
  }

  dropSessions(opts: { refuseForMs?: number } = {}): void {
    if (opts.refuseForMs) this.refuseUntil = Date.now() + opts.refuseForMs;
    for (const agent of this.agents) agent.destroy();
    for (const raw of this.rawSockets) raw.destroy();
  }

  async close(): Promise<void> {
    this.dropSessions();
    this.endpoints.closeAll(true);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private admit(raw: Socket): void {
    if (Date.now() < this.refuseUntil) {
      raw.destroy();
      return;
    }
    // ngrok's edge is written in Go, whose TCP sockets have TCP_NODELAY on; without it every small RPC
    // reply here would wait ~40 ms on Nagle + delayed ACK, a delay the real edge does not have.
    raw.setNoDelay(true);
    this.rawSockets.add(raw);
    raw.on("close", () => this.rawSockets.delete(raw));
    raw.on("error", () => {});
  }

  private accept(socket: Socket): void {
    socket.on("error", () => {});
    const agent = new AgentSession(socket, {
      authenticate: (token) => this.authenticate(token),
      bind: (req, session) => this.bind(req, session),
      unbind: (id) => this.endpoints.unbind(id),
      ended: (session) => {
        this.agents.delete(session);
        this.endpoints.sessionEnded(session);
      },
    });
    this.agents.add(agent);
  }

  private authenticate(token: string): Json | undefined {
    const ok = token !== "" && token === this.authtoken;
    this.authAttempts.push({ authtoken: token, ok });
    if (ok) return undefined;
    if (token === "") {
      return errorReply("Usage of ngrok requires a verified account and authtoken.", "ERR_NGROK_4018");
    }
    return errorReply("The authtoken you specified is not valid.", "ERR_NGROK_105");
  }

  private async bind(req: unknown, session: AgentSession): Promise<Json> {
    const failure = this.failures[0];
    if (failure) {
      if (--failure.remaining <= 0) this.failures.shift();
      this.binds.push(bindRecord(req, ""));
      return errorReply(failure.message, failure.errorCode);
    }
    // A first Bind may come without an Id: the edge names the tunnel, and the SDK re-binds with that name.
    const asked = (req as { Id?: unknown }).Id;
    const id = typeof asked === "string" && asked ? asked : `tn_${randomBytes(8).toString("hex")}`;
    const pooling = (req as { Extra?: { PoolingEnabled?: unknown } }).Extra?.PoolingEnabled === true;
    const bound = boundPolicy(req, PLAN[this.plan].maxRules);
    const refusal = "code" in bound ? bound : this.planRefusal(req, id, pooling);
    if (refusal) {
      this.binds.push(bindRecord(req, ""));
      return errorReply(refusal.message, refusal.code);
    }
    const shared = PLAN[this.plan].sharedDevDomain ? this.devDomainPort : undefined;
    const port = await this.endpoints.bind(id, session, {
      policy: "policy" in bound ? bound.policy : undefined,
      pooling,
      port: this.endpoints.portFor(id, shared),
    });
    if (PLAN[this.plan].sharedDevDomain) this.devDomainPort ??= port;
    // The agent may have gone while the port was opening.
    if (!session.authenticated) this.endpoints.sessionEnded(session);
    const url = `http://127.0.0.1:${port}`;
    this.binds.push(bindRecord(req, url, id));
    return bindReply({ ...(req as Json), Id: id }, url);
  }

  /**
   * What the plan refuses about a Bind: on the free plan, a domain other than the account's dev domain
   * (ERR_NGROK_313 / 319), or the dev domain already online in another endpoint unless both pool (334).
   */
  private planRefusal(req: unknown, id: string, pooling: boolean): Refusal | undefined {
    if (this.plan !== "free") return undefined;
    const domain = (req as { Opts?: { Domain?: unknown } }).Opts?.Domain;
    if (typeof domain === "string" && domain !== "" && domain !== this.devDomain) {
      return /\.ngrok(-free)?\.(app|dev|io)$/.test(domain)
        ? {
            code: "ERR_NGROK_313",
            message: `Only paid plans may create endpoints with custom subdomains.\nFailed to create an endpoint with the custom subdomain ${domain} for the account test.\nThis account is on the Free plan.`,
          }
        : {
            code: "ERR_NGROK_319",
            message: `You must reserve a custom hostname for your account before it can be used to create endpoints.\nFailed to create an endpoint with the domain ${domain} for the account test.`,
          };
    }
    const holder =
      this.devDomainPort === undefined ? undefined : this.endpoints.holderOf(this.devDomainPort, id);
    if (!holder || (holder.pooling && pooling)) return undefined;
    return {
      code: "ERR_NGROK_334",
      message: `The endpoint 'http://127.0.0.1:${this.devDomainPort}' is already online. Either\n1. stop your existing endpoint first, or\n2. start both endpoints with \`--pooling-enabled\` to load balance between them.`,
    };
  }
}

type Refusal = { code: string; message: string };

/** The Bind's traffic policy checked as ngrok checks it (policy.ts), or ngrok's refusal. */
function boundPolicy(req: unknown, maxRules: number): { policy?: CompiledPolicy } | Refusal {
  const text = (req as { Opts?: { TrafficPolicy?: unknown } }).Opts?.TrafficPolicy;
  if (typeof text !== "string" || text === "") return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return {
      code: "ERR_NGROK_2236",
      message: `The traffic policy was not able to be parsed: ${(err as Error).message}`,
    };
  }
  const compiled = compilePolicy(parsed, maxRules);
  return "refusal" in compiled ? compiled.refusal : compiled;
}

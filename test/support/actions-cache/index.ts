import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { BlobStore } from "./blob-store.js";

/**
 * A loopback stand-in for the GitHub Actions cache service as @actions/cache 6 speaks to it (cache service
 * v2): the results service's Twirp API github.actions.results.api.v1.CacheService (JSON, bearer runtime
 * token) — CreateCacheEntry, FinalizeCacheEntryUpload, GetCacheEntryDownloadURL — handing out signed URLs
 * of a strict blob store (blob-store.ts). Set up through the variables the runner gives a job (env()).
 *
 * Strict where the real service is: keys over 512 characters or with commas and empty versions are
 * invalid_argument; a second CreateCacheEntry for a key+version already in the scope (reserved or saved)
 * is 409 already_exists ("another job may be creating this cache"); finalize of an entry never created is
 * not_found, of one whose blob was never committed or has another size, failed_precondition; a lookup
 * matches only the same version. Scopes are branches as GitHub has them: a token writes to its ref and
 * reads its ref first, then the refs it may read (a PR reads the base/default branch).
 * A token may be read-only (tokenFor(..., { write: false })): reservations are denied with ok=false.
 * Outages: `down()` resets every connection (the client sees ECONNRESET); `failWith(status)` answers every
 * Twirp call with that status (500/503 are retried by the client, then it warns).
 */

export const SERVICE = "github.actions.results.api.v1.CacheService";

export interface CacheEntry {
  readonly id: number;
  readonly scope: string;
  readonly key: string;
  readonly version: string;
  readonly blobPath: string;
  sizeBytes?: number;
  finalized: boolean;
  readonly createdAt: number;
}

interface TokenGrant {
  readonly ref: string;
  readonly readFrom: readonly string[];
  readonly write: boolean;
}

type TwirpCode =
  | "invalid_argument"
  | "not_found"
  | "already_exists"
  | "failed_precondition"
  | "unauthenticated";
const TWIRP_STATUS: Record<TwirpCode | "bad_route" | "internal" | "unavailable", number> = {
  invalid_argument: 400,
  not_found: 404,
  already_exists: 409,
  failed_precondition: 412,
  unauthenticated: 401,
  bad_route: 404,
  internal: 500,
  unavailable: 503,
};

class TwirpError extends Error {
  constructor(
    readonly code: keyof typeof TWIRP_STATUS,
    msg: string,
  ) {
    super(msg);
  }
}

export class ActionsCacheService {
  readonly entries: CacheEntry[] = [];
  readonly blobStore = new BlobStore();
  /** Twirp calls as method names, in order. */
  readonly calls: string[] = [];
  private readonly tokens = new Map<string, TokenGrant>();
  private server?: Server;
  private resultsUrl = "";
  private blobUrl = "";
  private outage?: "down" | number;
  private nextId = 1;

  static async start(): Promise<ActionsCacheService> {
    const service = new ActionsCacheService();
    service.blobUrl = await service.blobStore.listen();
    service.server = createServer((req, res) => service.handle(req, res));
    await new Promise<void>((resolve) => service.server?.listen(0, "127.0.0.1", resolve));
    service.resultsUrl = `http://127.0.0.1:${(service.server.address() as AddressInfo).port}/`;
    return service;
  }

  /**
   * A runtime token for a job on `ref` that may also read `readFrom` (e.g. a PR reading refs/heads/main).
   * `write: false` is a token without writable scopes: the service answers CreateCacheEntry with ok=false
   * and "cache write denied: …" (HTTP 200), as GitHub does.
   */
  tokenFor(ref: string, readFrom: readonly string[] = [], { write = true } = {}): string {
    const token = `stand-in-${randomBytes(16).toString("hex")}`;
    this.tokens.set(token, { ref, readFrom, write });
    return token;
  }

  /** What the runner sets for a job that may use the cache (GITHUB_SERVER_URL: github.com, not GHES). */
  env(token: string): Record<string, string> {
    return {
      ACTIONS_RUNTIME_TOKEN: token,
      ACTIONS_RESULTS_URL: this.resultsUrl,
      ACTIONS_CACHE_SERVICE_V2: "True",
      ACTIONS_CACHE_URL: this.resultsUrl,
      GITHUB_SERVER_URL: "https://github.com",
    };
  }

  down(): void {
    this.outage = "down";
  }

  failWith(status: number): void {
    this.outage = status;
  }

  /** Back to a healthy, empty service (between tests). */
  reset(): void {
    this.outage = undefined;
    this.entries.length = 0;
    this.calls.length = 0;
    this.blobStore.reset();
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
    await this.blobStore.close();
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    if (this.outage === "down") {
      req.socket.destroy();
      return;
    }
    readJson(req)
      .then((body) => {
        if (typeof this.outage === "number")
          throw new TwirpError(this.outage === 503 ? "unavailable" : "internal", "stand-in outage");
        const method = this.route(req);
        const grant = this.grant(req);
        this.calls.push(method);
        return this.call(method, grant, body);
      })
      .then(
        (result) => json(res, 200, result),
        (err: unknown) => {
          const e = err instanceof TwirpError ? err : new TwirpError("internal", String(err));
          const status = typeof this.outage === "number" ? this.outage : TWIRP_STATUS[e.code];
          json(res, status, { code: e.code, msg: e.message });
        },
      );
  }

  private route(req: IncomingMessage): string {
    const m = new RegExp(`^/twirp/${SERVICE.replaceAll(".", "\\.")}/(\\w+)$`).exec(req.url ?? "");
    if (req.method !== "POST" || !m?.[1])
      throw new TwirpError("bad_route", `no handler for ${req.method} ${req.url}`);
    if (!String(req.headers["content-type"]).startsWith("application/json"))
      throw new TwirpError("bad_route", "only application/json is served by this stand-in");
    return m[1];
  }

  private grant(req: IncomingMessage): TokenGrant {
    const token = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ""))?.[1] ?? "";
    const grant = this.tokens.get(token);
    if (!grant) throw new TwirpError("unauthenticated", "invalid or missing runtime token");
    return grant;
  }

  private call(method: string, grant: TokenGrant, body: Record<string, unknown>): Record<string, unknown> {
    switch (method) {
      case "CreateCacheEntry":
        return this.create(grant, str(body.key), str(body.version));
      case "FinalizeCacheEntryUpload":
        return this.finalize(grant, str(body.key), str(body.version), Number(body.size_bytes ?? 0));
      case "GetCacheEntryDownloadURL":
        return this.lookup(grant, str(body.key), arr(body.restore_keys), str(body.version));
      default:
        throw new TwirpError("bad_route", `no method ${method}`);
    }
  }

  private create(grant: TokenGrant, key: string, version: string) {
    checkKey(key);
    if (!version) throw new TwirpError("invalid_argument", "version is required");
    if (!grant.write) return { ok: false, message: "cache write denied: token has no writable scopes" };
    if (this.entries.some((e) => e.scope === grant.ref && e.key === key && e.version === version))
      throw new TwirpError(
        "already_exists",
        "cache entry with the same key, version, and scope already exists",
      );
    const id = this.nextId++;
    const blobPath = `/actionscache/cache-${id}/${randomBytes(8).toString("hex")}`;
    this.entries.push({
      id,
      scope: grant.ref,
      key,
      version,
      blobPath,
      finalized: false,
      createdAt: Date.now() + id,
    });
    return { ok: true, signed_upload_url: this.blobStore.signedUrl(this.blobUrl, blobPath, "cw") };
  }

  private finalize(grant: TokenGrant, key: string, version: string, sizeBytes: number) {
    checkKey(key);
    const entry = this.entries.find((e) => e.scope === grant.ref && e.key === key && e.version === version);
    if (!entry) throw new TwirpError("not_found", "cache entry not found");
    if (entry.finalized) throw new TwirpError("already_exists", "cache entry is already finalized");
    const blob = this.blobStore.blobs.get(entry.blobPath);
    if (!blob) throw new TwirpError("failed_precondition", "the cache entry's blob was never committed");
    if (blob.length !== sizeBytes)
      throw new TwirpError(
        "failed_precondition",
        `size_bytes ${sizeBytes} is not the uploaded ${blob.length}`,
      );
    entry.finalized = true;
    entry.sizeBytes = sizeBytes;
    return { ok: true, entry_id: String(entry.id) };
  }

  /** GitHub's order: exact key, then each restore key as a prefix (newest first), per scope, own ref first. */
  private lookup(grant: TokenGrant, key: string, restoreKeys: string[], version: string) {
    for (const k of [key, ...restoreKeys]) checkKey(k);
    if (!version) throw new TwirpError("invalid_argument", "version is required");
    for (const scope of [grant.ref, ...grant.readFrom]) {
      const saved = this.entries
        .filter((e) => e.finalized && e.scope === scope && e.version === version)
        .sort((a, b) => b.createdAt - a.createdAt);
      const hit =
        saved.find((e) => e.key === key) ??
        restoreKeys.map((prefix) => saved.find((e) => e.key.startsWith(prefix))).find((e) => e !== undefined);
      if (hit)
        return {
          ok: true,
          signed_download_url: this.blobStore.signedUrl(this.blobUrl, hit.blobPath, "r"),
          matched_key: hit.key,
        };
    }
    return { ok: false };
  }
}

function checkKey(key: string): void {
  if (!key) throw new TwirpError("invalid_argument", "key is required");
  if (key.length > 512) throw new TwirpError("invalid_argument", "key cannot be longer than 512 characters");
  if (key.includes(",")) throw new TwirpError("invalid_argument", "key cannot contain commas");
}

function str(value: unknown): string {
  return typeof value === "string" ? value : "";
}

function arr(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  let text = "";
  for await (const chunk of req) text += chunk;
  try {
    const body = JSON.parse(text || "{}") as unknown;
    if (body && typeof body === "object" && !Array.isArray(body)) return body as Record<string, unknown>;
  } catch {
    // falls through to the Twirp error below
  }
  throw new TwirpError("invalid_argument", "the body is not a JSON object");
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A loopback stand-in for Azure Blob Storage, as far as @azure/storage-blob's BlockBlobClient goes when
 * @actions/cache moves an archive through a signed URL: Put Blob (single shot), Put Block + Put Block List
 * (large files), Get Blob Properties (HEAD) and Get Blob with x-ms-range. Everything else is refused with
 * Azure's error shape (XML <Error><Code>, x-ms-error-code). URLs are path-style, as for an IP endpoint:
 * http://127.0.0.1:PORT/<account>/<container>/<blob>?sv&se&sp&sr&sig — `sig` is an HMAC over the path,
 * permissions and expiry, so a tampered, expired or read-only URL is refused like a bad SAS (403).
 */
export class BlobStore {
  /** Committed blobs by path. */
  readonly blobs = new Map<string, Buffer>();
  /** Uncommitted blocks by path, then block id. */
  private readonly blocks = new Map<string, Map<string, Buffer>>();
  private readonly key = randomBytes(32);
  private server?: Server;
  /** Non-200 answer to every request, e.g. 500 or 503 (an outage); undefined serves normally. */
  failWith?: number;
  /** Reads of ranges from this offset on are refused as a signed URL that expired mid-download is (403). */
  expireFrom?: number;
  /** Every request's method, path and comp (for tests asserting what the client did). */
  readonly requests: { method: string; path: string; comp?: string }[] = [];

  async listen(): Promise<string> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: Error) => {
        const e = err instanceof BlobError ? err : new BlobError(500, "InternalError", err.message);
        azureError(res, e.status, e.code, e.message);
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  reset(): void {
    this.failWith = undefined;
    this.expireFrom = undefined;
    this.blobs.clear();
    this.blocks.clear();
    this.requests.length = 0;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }

  /** A URL granting `permissions` ("r" read, "cw" create+write) on one blob for `ttlMs`. */
  signedUrl(base: string, path: string, permissions: "r" | "cw", ttlMs = 3_600_000): string {
    const se = new Date(Date.now() + ttlMs).toISOString().replace(/\.\d+Z$/, "Z");
    const query = new URLSearchParams({ sv: "2025-01-05", se, sr: "b", sp: permissions });
    query.set("sig", this.sign(path, permissions, se));
    return `${base}${path}?${query}`;
  }

  private sign(path: string, sp: string, se: string): string {
    return createHmac("sha256", this.key).update(`${sp}\n${se}\n${path}`).digest("base64");
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://blob");
    const path = decodeURIComponent(url.pathname);
    const comp = url.searchParams.get("comp") ?? undefined;
    this.requests.push({ method: req.method ?? "", path, ...(comp ? { comp } : {}) });
    if (this.failWith)
      throw new BlobError(this.failWith, "ServerBusy", "The server is busy (stand-in outage).");
    const write = req.method === "PUT";
    const denied = this.checkSas(url, path, write ? "w" : "r");
    if (denied) throw new BlobError(403, "AuthenticationFailed", denied);
    const body = write ? await readBody(req) : Buffer.alloc(0);
    if (req.method === "PUT" && comp === undefined) return this.putBlob(req, res, path, body);
    if (req.method === "PUT" && comp === "block") return this.putBlock(res, path, url, body);
    if (req.method === "PUT" && comp === "blocklist") return this.putBlockList(res, path, body);
    if ((req.method === "HEAD" || req.method === "GET") && comp === undefined)
      return this.getBlob(req, res, path);
    azureError(
      res,
      400,
      "UnsupportedHttpVerb",
      `${req.method} comp=${comp ?? ""} is not served by this blob store.`,
    );
  }

  private checkSas(url: URL, path: string, need: "r" | "w"): string | undefined {
    const q = url.searchParams;
    const [sp, se, sig] = [q.get("sp") ?? "", q.get("se") ?? "", q.get("sig") ?? ""];
    if (!sig || !se) return "Server failed to authenticate the request: no signature.";
    const expected = Buffer.from(this.sign(path, sp, se));
    if (expected.length !== Buffer.from(sig).length || !timingSafeEqual(expected, Buffer.from(sig)))
      return "Signature did not match.";
    if (Date.parse(se) < Date.now()) return "Signed expiry time has passed.";
    if (!sp.includes(need))
      return `This request is not authorized to perform this operation using this permission (${sp}).`;
    return undefined;
  }

  private putBlob(req: IncomingMessage, res: ServerResponse, path: string, body: Buffer): void {
    if (req.headers["x-ms-blob-type"] !== "BlockBlob")
      throw new BlobError(400, "MissingRequiredHeader", "x-ms-blob-type: BlockBlob is required.");
    this.blobs.set(path, body);
    this.blocks.delete(path);
    created(res);
  }

  private putBlock(res: ServerResponse, path: string, url: URL, body: Buffer): void {
    const id = url.searchParams.get("blockid") ?? "";
    if (!id || Buffer.from(id, "base64").toString("base64") !== id || id.length > 88)
      throw new BlobError(400, "InvalidQueryParameterValue", "blockid must be Base64, at most 64 bytes.");
    const blocks = this.blocks.get(path) ?? new Map<string, Buffer>();
    const other = [...blocks.keys()][0];
    if (other !== undefined && other.length !== id.length)
      throw new BlobError(400, "InvalidBlobOrBlock", "All block ids of a blob must have the same length.");
    blocks.set(id, body);
    this.blocks.set(path, blocks);
    created(res);
  }

  private putBlockList(res: ServerResponse, path: string, body: Buffer): void {
    const xml = body.toString("utf8");
    if (!/^(<\?xml[^>]*\?>)?\s*<BlockList>[\s\S]*<\/BlockList>\s*$/.test(xml))
      throw new BlobError(400, "InvalidXmlDocument", "The body is not a BlockList.");
    const ids = [...xml.matchAll(/<(Latest|Uncommitted)>([^<]*)<\/\1>/g)].map((m) => m[2] ?? "");
    const blocks = this.blocks.get(path);
    const missing = ids.find((id) => !blocks?.has(id));
    if (ids.length === 0 || missing !== undefined || !blocks)
      throw new BlobError(400, "InvalidBlockList", `Block ${missing ?? "(none)"} was not uploaded.`);
    this.blobs.set(path, Buffer.concat(ids.map((id) => blocks.get(id) as Buffer)));
    this.blocks.delete(path);
    created(res);
  }

  private getBlob(req: IncomingMessage, res: ServerResponse, path: string): void {
    const blob = this.blobs.get(path);
    if (!blob) throw new BlobError(404, "BlobNotFound", "The specified blob does not exist.");
    const range = String(req.headers["x-ms-range"] ?? req.headers.range ?? "");
    const headers = {
      "x-ms-blob-type": "BlockBlob",
      "accept-ranges": "bytes",
      "content-type": "application/octet-stream",
      etag: '"0x1"',
      "last-modified": new Date(0).toUTCString(),
      "x-ms-version": "2025-01-05",
    };
    if (!range) {
      res.writeHead(200, { ...headers, "content-length": blob.length });
      res.end(req.method === "HEAD" ? undefined : blob);
      return;
    }
    const m = /^bytes=(\d+)-(\d*)$/.exec(range);
    const start = Number(m?.[1] ?? Number.NaN);
    if (this.expireFrom !== undefined && start >= this.expireFrom)
      throw new BlobError(403, "AuthenticationFailed", "Signed expiry time has passed.");
    const end = Math.min(m?.[2] ? Number(m[2]) : blob.length - 1, blob.length - 1);
    if (!m || start >= blob.length || end < start)
      throw new BlobError(
        416,
        "InvalidRange",
        `The range ${range} cannot be satisfied (size ${blob.length}).`,
      );
    res.writeHead(206, {
      ...headers,
      "content-length": end - start + 1,
      "content-range": `bytes ${start}-${end}/${blob.length}`,
    });
    res.end(req.method === "HEAD" ? undefined : blob.subarray(start, end + 1));
  }
}

class BlobError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function created(res: ServerResponse): void {
  res.writeHead(201, {
    etag: '"0x1"',
    "last-modified": new Date(0).toUTCString(),
    "x-ms-request-server-encrypted": "true",
  });
  res.end();
}

function azureError(res: ServerResponse, status: number, code: string, message: string): void {
  const xml = `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`;
  res.writeHead(status, { "content-type": "application/xml", "x-ms-error-code": code });
  res.end(xml);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

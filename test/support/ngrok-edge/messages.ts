/** The JSON messages of ngrok's agent protocol (proto.rs / msg.go), as the edge reads and writes them. */

/** Typed-stream kinds: the first 4 bytes (big-endian) of every stream. */
export const StreamKind = {
  Auth: 0,
  Bind: 1,
  Unbind: 2,
  Proxy: 3,
  Restart: 4,
  Stop: 5,
  Update: 6,
  StopTunnel: 9,
  Heartbeat: 0xffffffff,
} as const;

export interface BindRecord {
  id: string;
  proto: string;
  forwardsTo: string;
  metadata: string;
  trafficPolicy?: string;
  url: string;
  raw: Record<string, unknown>;
}

type Json = Record<string, unknown>;

const obj = (v: unknown): Json => (v && typeof v === "object" && !Array.isArray(v) ? (v as Json) : {});
const str = (v: unknown): string => (typeof v === "string" ? v : "");

/** An RPC error the SDK turns into `{ errorCode, message }`: the code is the last line. */
export const errorReply = (message: string, code: string): Json => ({ Error: `${message}\n${code}\n` });

export const authTokenOf = (req: unknown): string => str(obj(obj(req).Extra).AuthToken);

export function authReply(req: unknown, clientId: string): Json {
  const offered = obj(req).Version;
  const version = Array.isArray(offered) && typeof offered[0] === "string" ? offered[0] : "2";
  return {
    Version: version,
    ClientId: clientId,
    Extra: {
      Region: "local",
      Cookie: `cookie-${clientId}`,
      PlanName: "Free",
      SessionDuration: 0,
      AccountName: "test",
    },
  };
}

export const bindIdOf = (req: unknown): string => str(obj(req).Id);

/** `id` is the tunnel's effective Id: the one asked for, or the one the edge assigned. */
export function bindRecord(req: unknown, url: string, id?: string): BindRecord {
  const raw = obj(req);
  const policy = str(obj(raw.Opts).TrafficPolicy);
  return {
    id: id ?? str(raw.Id),
    proto: str(raw.Proto),
    forwardsTo: str(raw.ForwardsTo),
    metadata: str(obj(raw.Extra).Metadata),
    ...(policy ? { trafficPolicy: policy } : {}),
    url,
    raw,
  };
}

/** The SDK deserialises the echoed Opts into the same endpoint type it sent, so echo them verbatim. */
export function bindReply(req: unknown, url: string): Json {
  const raw = obj(req);
  return {
    Id: raw.Id,
    URL: url,
    Proto: raw.Proto,
    Opts: raw.Opts,
    Extra: { Token: str(obj(raw.Extra).Token) },
  };
}

/** The start of a Proxy stream: kind, then an int64-LE length, then the JSON header. */
export function proxyPreamble(bindId: string, clientAddr: string, proto: string): Buffer {
  const header = Buffer.from(
    JSON.stringify({ Id: bindId, ClientAddr: clientAddr, Proto: proto, EdgeType: "", PassthroughTLS: false }),
  );
  const head = Buffer.alloc(12);
  head.writeUInt32BE(StreamKind.Proxy, 0);
  head.writeBigInt64LE(BigInt(header.length), 4);
  return Buffer.concat([head, header]);
}

/** muxado framing: an 8-byte header (24-bit length, type<<4|flags, 31-bit stream id), then the body. */

export const FrameType = { Rst: 0, Data: 1, WndInc: 2, GoAway: 3 } as const;
export const Flag = { Fin: 0x1, Syn: 0x2 } as const;
/** muxado error codes used on RST / GOAWAY (errors.rs in muxado). */
export const MuxError = { None: 0, Protocol: 1, FlowControl: 3, StreamClosed: 4, StreamReset: 7 } as const;

/** Both ends start every stream with this much credit (muxado's DEFAULT_WINDOW). */
export const INITIAL_WINDOW = 256 * 1024;
const HEADER_SIZE = 8;
const MAX_LENGTH = 0xffffff;

export interface Frame {
  type: number;
  flags: number;
  streamId: number;
  body: Buffer;
}

export function encodeFrame({ type, flags, streamId, body }: Frame): Buffer {
  if (body.length > MAX_LENGTH) throw new Error(`muxado frame body too large: ${body.length}`);
  const out = Buffer.allocUnsafe(HEADER_SIZE + body.length);
  out.writeUIntBE(body.length, 0, 3);
  out.writeUInt8(((type & 0xf) << 4) | (flags & 0xf), 3);
  out.writeUInt32BE(streamId & 0x7fffffff, 4);
  body.copy(out, HEADER_SIZE);
  return out;
}

export const dataFrame = (streamId: number, body: Buffer, flags = 0): Frame => ({
  type: FrameType.Data,
  flags,
  streamId,
  body,
});

export const wndIncFrame = (streamId: number, by: number): Frame => ({
  type: FrameType.WndInc,
  flags: 0,
  streamId,
  body: u32(by),
});

export const rstFrame = (streamId: number, code: number): Frame => ({
  type: FrameType.Rst,
  flags: 0,
  streamId,
  body: u32(code),
});

export function goAwayFrame(lastStreamId: number, code: number, message: string): Frame {
  return {
    type: FrameType.GoAway,
    flags: 0,
    streamId: 0,
    body: Buffer.concat([u32(lastStreamId), u32(code), Buffer.from(message)]),
  };
}

function u32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
}

/** Cuts a byte stream into frames; keeps chunks in a list so large transfers are not re-copied per read. */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;

  push(chunk: Buffer): Frame[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const frames: Frame[] = [];
    for (;;) {
      if (this.buffered < HEADER_SIZE) return frames;
      const head = this.peek(HEADER_SIZE);
      const length = head.readUIntBE(0, 3);
      if (this.buffered < HEADER_SIZE + length) return frames;
      const all = this.take(HEADER_SIZE + length);
      const typeFlags = all.readUInt8(3);
      frames.push({
        type: typeFlags >> 4,
        flags: typeFlags & 0xf,
        streamId: all.readUInt32BE(4) & 0x7fffffff,
        body: all.subarray(HEADER_SIZE),
      });
    }
  }

  private peek(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length >= n) return first;
    const joined = Buffer.concat(this.chunks);
    this.chunks = [joined];
    return joined;
  }

  private take(n: number): Buffer {
    const joined = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    this.chunks = joined.length > n ? [joined.subarray(n)] : [];
    this.buffered -= n;
    return joined.subarray(0, n);
  }
}

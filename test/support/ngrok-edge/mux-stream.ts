import { EventEmitter } from "node:events";
import {
  dataFrame,
  Flag,
  type Frame,
  FrameType,
  INITIAL_WINDOW,
  MuxError,
  rstFrame,
  wndIncFrame,
} from "./frames.js";

/** Largest DATA body we send at once; well under muxado's 24-bit limit and kind to the agent's buffers. */
const MAX_CHUNK = 64 * 1024;

export interface FrameSink {
  send(frame: Frame): void;
  /** The stream is finished both ways (or reset): drop it from the session's table. */
  forget(streamId: number): void;
}

/**
 * One muxado stream, seen from the edge. Events: `data` (Buffer), `end` (peer sent FIN),
 * `reset` (peer sent RST or the session died), `drain` (queued writes went out), `close` (finished).
 * Whoever handles `data` must call `consumed(n)` once those bytes are passed on, which grants the peer
 * more window: that is what keeps a slow visitor from being flooded.
 */
export class MuxStream extends EventEmitter {
  private sendWindow = INITIAL_WINDOW;
  private queue: Buffer[] = [];
  private queuedBytes = 0;
  private needsSyn: boolean;
  private finQueued = false;
  private finSent = false;
  private finReceived = false;
  private closed = false;

  constructor(
    readonly id: number,
    private readonly sink: FrameSink,
    openedHere: boolean,
  ) {
    super();
    this.needsSyn = openedHere;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Queue bytes for the peer; false means "over the peer's window, wait for `drain`". */
  write(data: Buffer): boolean {
    if (this.closed || this.finQueued || data.length === 0) return !this.closed;
    this.queue.push(data);
    this.queuedBytes += data.length;
    this.flush();
    return this.queuedBytes === 0;
  }

  /** Half-close: FIN goes out after everything queued. */
  end(): void {
    if (this.closed || this.finQueued) return;
    this.finQueued = true;
    this.flush();
  }

  reset(code: number = MuxError.StreamReset): void {
    if (this.closed) return;
    this.sink.send(rstFrame(this.id, code));
    this.finish("reset");
  }

  consumed(n: number): void {
    if (!this.closed && !this.finReceived && n > 0) this.sink.send(wndIncFrame(this.id, n));
  }

  /** Called by the session for every frame addressed to this stream. */
  handleFrame(frame: Frame): void {
    if (this.closed) return;
    if (frame.type === FrameType.Rst) {
      this.finish("reset");
      return;
    }
    if (frame.type === FrameType.WndInc) {
      this.sendWindow += frame.body.readUInt32BE(0);
      this.flush();
      return;
    }
    if (frame.body.length > 0) this.emit("data", frame.body);
    if (frame.flags & Flag.Fin && !this.finReceived) {
      this.finReceived = true;
      this.emit("end");
      if (this.finSent) this.finish();
    }
  }

  /** The transport is gone: anything still open is cut off. */
  sessionEnded(): void {
    if (!this.closed) this.finish("reset");
  }

  private flush(): void {
    while (this.queue.length > 0 && this.sendWindow > 0) {
      const head = this.queue[0]!;
      const n = Math.min(head.length, this.sendWindow, MAX_CHUNK);
      this.sink.send(dataFrame(this.id, head.subarray(0, n), this.takeSyn()));
      this.sendWindow -= n;
      this.queuedBytes -= n;
      if (n === head.length) this.queue.shift();
      else this.queue[0] = head.subarray(n);
      if (this.queue.length === 0) this.emit("drain");
    }
    if (this.finQueued && !this.finSent && this.queue.length === 0) {
      this.finSent = true;
      this.sink.send(dataFrame(this.id, Buffer.alloc(0), Flag.Fin | this.takeSyn()));
      if (this.finReceived) this.finish();
    }
  }

  private takeSyn(): number {
    if (!this.needsSyn) return 0;
    this.needsSyn = false;
    return Flag.Syn;
  }

  private finish(reason?: "reset"): void {
    this.closed = true;
    this.queue = [];
    this.queuedBytes = 0;
    this.sink.forget(this.id);
    if (reason) this.emit("reset");
    this.emit("close");
  }
}

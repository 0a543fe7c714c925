import { EventEmitter } from "node:events";
import type { Duplex } from "node:stream";
import {
  encodeFrame,
  Flag,
  type Frame,
  FrameDecoder,
  FrameType,
  goAwayFrame,
  MuxError,
  rstFrame,
} from "./frames.js";
import { MuxStream } from "./mux-stream.js";

/**
 * The server side of a muxado session over one TLS connection. The agent opens odd stream ids, we open
 * even ones. Events: `stream` (MuxStream the agent opened), `close` (transport gone).
 */
export class MuxSession extends EventEmitter {
  private readonly streams = new Map<number, MuxStream>();
  private readonly decoder = new FrameDecoder();
  private nextId = 2;
  private lastRemoteId = 0;
  private ended = false;

  constructor(private readonly transport: Duplex) {
    super();
    transport.on("data", (chunk: Buffer) => this.receive(chunk));
    transport.on("close", () => this.shutdown());
    // A reset from the agent's side is just another way for the session to end.
    transport.on("error", () => this.shutdown());
  }

  get isEnded(): boolean {
    return this.ended;
  }

  open(): MuxStream {
    const id = this.nextId;
    this.nextId += 2;
    const stream = new MuxStream(id, this.sink, true);
    this.streams.set(id, stream);
    return stream;
  }

  /** Say GOAWAY and hang up. */
  close(): void {
    if (this.ended) return;
    this.send(goAwayFrame(this.lastRemoteId, MuxError.None, ""));
    this.transport.end();
    this.shutdown();
  }

  destroy(): void {
    this.transport.destroy();
    this.shutdown();
  }

  private readonly sink = {
    send: (frame: Frame) => this.send(frame),
    forget: (id: number) => this.streams.delete(id),
  };

  private send(frame: Frame): void {
    if (!this.ended && !this.transport.destroyed) this.transport.write(encodeFrame(frame));
  }

  private receive(chunk: Buffer): void {
    let frames: Frame[];
    try {
      frames = this.decoder.push(chunk);
    } catch {
      this.destroy();
      return;
    }
    for (const frame of frames) {
      if (this.ended) return;
      this.dispatch(frame);
    }
  }

  private dispatch(frame: Frame): void {
    if (frame.type > FrameType.GoAway) {
      this.send(goAwayFrame(this.lastRemoteId, MuxError.Protocol, "invalid frame"));
    }
    if (frame.type >= FrameType.GoAway) {
      this.destroy();
      return;
    }
    let stream = this.streams.get(frame.streamId);
    if (!stream && frame.flags & Flag.Syn && frame.type === FrameType.Data) {
      stream = new MuxStream(frame.streamId, this.sink, false);
      this.lastRemoteId = frame.streamId;
      this.streams.set(frame.streamId, stream);
      this.emit("stream", stream);
    }
    if (stream) stream.handleFrame(frame);
    else if (frame.type === FrameType.Data && frame.body.length > 0) {
      // Data for a stream we already finished: tell the agent to stop, like muxado itself does.
      this.send(rstFrame(frame.streamId, MuxError.StreamClosed));
    }
  }

  private shutdown(): void {
    if (this.ended) return;
    this.ended = true;
    for (const stream of [...this.streams.values()]) stream.sessionEnded();
    this.streams.clear();
    this.emit("close");
  }
}

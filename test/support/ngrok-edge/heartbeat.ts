import { randomBytes } from "node:crypto";
import { StreamKind } from "./messages.js";
import type { MuxStream } from "./mux-stream.js";

/**
 * The edge's own liveness probe, as ngrok's servers do: a server-opened heartbeat stream the agent echoes.
 * It matters because the SDK's Session.close() / ngrok.disconnect() stop its muxado writer but leave the
 * TCP connection open; only a missed echo tells the edge that the agent is gone.
 */
export const HEARTBEAT_INTERVAL_MS = 250;
export const HEARTBEAT_TOLERANCE_MS = 2_000;

export function startHeartbeat(stream: MuxStream, onDead: () => void): () => void {
  let awaiting: Buffer | undefined;
  let sentAt = 0;
  let echoed = Buffer.alloc(0);

  const head = Buffer.alloc(4);
  head.writeUInt32BE(StreamKind.Heartbeat, 0);
  stream.write(head);

  stream.on("data", (chunk: Buffer) => {
    stream.consumed(chunk.length);
    echoed = Buffer.concat([echoed, chunk]);
    if (awaiting && echoed.length >= 4) {
      if (echoed.subarray(0, 4).equals(awaiting)) awaiting = undefined;
      echoed = echoed.subarray(4);
    }
  });

  const timer = setInterval(() => {
    if (awaiting) {
      if (Date.now() - sentAt > HEARTBEAT_TOLERANCE_MS) {
        stop();
        onDead();
      }
      return;
    }
    awaiting = randomBytes(4);
    sentAt = Date.now();
    stream.write(awaiting);
  }, HEARTBEAT_INTERVAL_MS);
  timer.unref();

  const stop = () => clearInterval(timer);
  stream.on("close", stop);
  return stop;
}

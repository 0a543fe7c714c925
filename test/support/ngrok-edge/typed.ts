import type { MuxStream } from "./mux-stream.js";

/** Waits for a stream's 4-byte kind, then hands the stream over with whatever followed it. */
export function readKind(stream: MuxStream, handler: (kind: number, rest: Buffer) => void): void {
  let head = Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    stream.consumed(chunk.length);
    head = Buffer.concat([head, chunk]);
    if (head.length < 4) return;
    stream.off("data", onData);
    handler(head.readUInt32BE(0), head.subarray(4));
  };
  stream.on("data", onData);
}

/**
 * One request/response exchange. The agent writes one JSON object and does not half-close: it reads our
 * reply to end of stream. So parse as soon as the bytes form valid JSON, answer, then FIN.
 */
export function serveRpc(
  stream: MuxStream,
  initial: Buffer,
  answer: (req: unknown) => Promise<object>,
): void {
  let body = initial;
  let answered = false;
  const tryAnswer = () => {
    if (answered) return;
    let req: unknown;
    try {
      req = JSON.parse(body.toString("utf8"));
    } catch {
      return; // not all of it yet
    }
    answered = true;
    stream.off("data", onData);
    answer(req).then(
      (reply) => {
        stream.write(Buffer.from(JSON.stringify(reply)));
        stream.end();
      },
      () => stream.reset(),
    );
  };
  const onData = (chunk: Buffer) => {
    stream.consumed(chunk.length);
    body = Buffer.concat([body, chunk]);
    tryAnswer();
  };
  stream.on("data", onData);
  if (body.length > 0) tryAnswer();
}

/** The agent's liveness probe: it writes 4 random bytes and waits for the same 4 back. */
export function echoHeartbeats(stream: MuxStream, initial: Buffer): void {
  const echo = (chunk: Buffer) => {
    stream.consumed(chunk.length);
    stream.write(chunk);
  };
  stream.on("data", echo);
  if (initial.length > 0) stream.write(initial);
}

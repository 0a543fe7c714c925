import { StringDecoder } from "node:string_decoder";
import type { EngineEvent } from "./build-progress.js";

/**
 * Reads the engine's newline-delimited JSON event stream (build, pull, push) to its end, handing each
 * event to `onEvent`. Lines that are not JSON are passed on as plain `stream` text rather than lost.
 */
export async function readEngineStream(
  stream: NodeJS.ReadableStream,
  onEvent: (event: EngineEvent) => void,
): Promise<void> {
  const decoder = new StringDecoder("utf8");
  const lines = new LineSplitter();
  const take = (line: string) => {
    if (line.trim() === "") return;
    let event: EngineEvent;
    try {
      event = JSON.parse(line) as EngineEvent;
    } catch {
      event = { stream: `${line}\n` };
    }
    onEvent(event);
  };
  for await (const chunk of stream) {
    const text = typeof chunk === "string" ? chunk : decoder.write(chunk as Buffer);
    for (const line of lines.push(text)) take(line);
  }
  for (const line of lines.push(decoder.end())) take(line);
  for (const line of lines.end()) take(line);
}

/** Cuts a text stream that arrives in arbitrary chunks into whole lines ("\n" or "\r\n"). */
export class LineSplitter {
  private partial = "";

  push(chunk: string): string[] {
    const parts = (this.partial + chunk).split("\n");
    this.partial = parts.pop() ?? "";
    return parts.map((line) => line.replace(/\r$/, ""));
  }

  /** The last line when the stream ended without a newline. */
  end(): string[] {
    const rest = this.partial.replace(/\r$/, "");
    this.partial = "";
    return rest === "" ? [] : [rest];
  }
}

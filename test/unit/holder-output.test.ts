import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { scrubHolderOutput } from "../../src/action/holder-output.js";

/** A stream standing in for the holder's stdout (a log file), collecting what reaches it. */
function logFile() {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString("utf8"));
      done();
    },
  });
  scrubHolderOutput([stream as unknown as NodeJS.WriteStream]);
  return { stream, text: () => chunks.join("") };
}

describe("scrubHolderOutput", () => {
  it("drops @actions/core's ::add-mask:: writes and scrubs what they named from every later write", () => {
    const log = logFile();
    log.stream.write("::add-mask::s3cret-token\n");
    // setSecret escapes %, CR and LF: a multi-line secret arrives encoded, each of its lines is scrubbed.
    log.stream.write("::add-mask::first-line%0Asecond-line%25\n");
    log.stream.write("Bound with s3cret-token\n");
    log.stream.write(Buffer.from("url-encoded: second-line%25 and first-line\n"));
    expect(log.text()).toBe("Bound with ***\nurl-encoded: *** and ***\n");
  });

  it("learns nothing from text the pull request printed, even inside a stop-commands block", () => {
    const log = logFile();
    const block = "::stop-commands::0123abcd\n::add-mask::stop-commands\n::0123abcd::\n";
    log.stream.write(block);
    log.stream.write("build says ::add-mask::: inline\n");
    log.stream.write("::stop-commands::feedbeef\n");
    expect(log.text()).toBe(`${block}build says ::add-mask::: inline\n::stop-commands::feedbeef\n`);
  });

  it("keeps the write's callback", async () => {
    const log = logFile();
    await new Promise<void>((resolve) => log.stream.write("::add-mask::abcdef\n", () => resolve()));
    await new Promise<void>((resolve) => log.stream.write("abcdef\n", () => resolve()));
    expect(log.text()).toBe("***\n");
  });
});

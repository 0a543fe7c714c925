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

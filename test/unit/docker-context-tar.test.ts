import { describe, expect, it } from "vitest";
import { type TarEntry, tarEnd, tarHeader } from "../../src/docker/context-tar.js";
import { tarEntries } from "../support/context-capture.js";

const base: TarEntry = { name: "f", type: "file", mode: 0o644, size: 0, mtime: 1_700_000_000 };

/** The entry as an independent tar reader sees it, and whether a PAX header carried part of it. */
function roundTrip(entry: TarEntry) {
  const header = tarHeader(entry);
  // Content is not needed to read headers back: the reader only checks sizes of what follows.
  const body = Buffer.concat([
    header,
    Buffer.alloc(Math.ceil(Math.min(entry.size, 1 << 20) / 512) * 512),
    tarEnd(),
  ]);
  const pax = header[156] === 0x78; // 'x'
  if (entry.size > 1 << 20) return { pax, header };
  const [read] = tarEntries(body);
  return { pax, read, header };
}

describe("tar headers as Go's archive/tar writes them for the docker CLI", () => {
  it("plain USTAR when everything fits: octal fields, NUL-terminated checksum then a space", () => {
    const { pax, read, header } = roundTrip({ ...base, name: "dir/", type: "directory", mode: 0o2775 });
    expect(pax).toBe(false);
    expect(read).toMatchObject({
      name: "dir/",
      type: "5",
      mode: 0o2775,
      mtime: 1_700_000_000,
      uid: 0,
      gid: 0,
    });
    expect(header.subarray(100, 108).toString("latin1")).toBe("0002775\0");
    expect(header[154]).toBe(0);
    expect(header[155]).toBe(0x20);
    expect(header.subarray(257, 265).toString("latin1")).toBe("ustar\u000000");
  });

  it("a long ASCII name split into prefix and name, USTAR still", () => {
    const name = `${"p".repeat(120)}/${"n".repeat(90)}`;
    const { pax, read } = roundTrip({ ...base, name });
    expect(pax).toBe(false);
    expect(read?.name).toBe(name);
  });

  it("PAX records for what USTAR cannot hold: non-ASCII or unsplittable names, long link targets, times outside 0…8^11-1", () => {
    for (const entry of [
      { ...base, name: "名前.txt" },
      { ...base, name: "x".repeat(101) },
      { ...base, name: "l", type: "symlink", linkname: `/${"t".repeat(150)}` },
      { ...base, mtime: -315_619_200 },
      { ...base, mtime: 8 ** 11 },
    ] satisfies TarEntry[]) {
      const { pax, read } = roundTrip(entry);
      expect(pax, entry.name).toBe(true);
      expect(read).toMatchObject({ name: entry.name, mtime: entry.mtime, linkname: entry.linkname ?? "" });
    }
    expect(roundTrip({ ...base, mtime: 8 ** 11 - 1 }).pax).toBe(false);
  });

  it("a size of 8 GiB or more as a PAX size record", () => {
    const { pax, header } = roundTrip({ ...base, name: "huge.bin", size: 9 * 2 ** 30 });
    expect(pax).toBe(true);
    expect(header.subarray(512, 1024).toString("latin1")).toContain("size=9663676416\n");
  });
});

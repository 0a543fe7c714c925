/**
 * Tar headers written as Go's archive/tar writes the docker CLI's build context (moby's archive sets
 * Format PAX): USTAR whenever the entry fits it, else a PAX extended header before the USTAR-shaped one,
 * so names, link targets, sizes and times of any length or value travel exactly — a 1960 or a 2300
 * mtime included, where a plain octal field cannot hold them. Owners are 0:0 and names empty, as the CLI
 * sends them, unless an entry gives its uid/gid (a cache volume's root, volumes.ts).
 */

export type TarType = "file" | "hardlink" | "symlink" | "char" | "block" | "directory" | "fifo";

const TYPEFLAG: Record<TarType, string> = {
  file: "0",
  hardlink: "1",
  symlink: "2",
  char: "3",
  block: "4",
  directory: "5",
  fifo: "6",
};

export interface TarEntry {
  /** Context-relative, POSIX separators; directories end with "/" (the CLI's canonicalTarName). */
  readonly name: string;
  readonly type: TarType;
  /** Permission bits with setuid/setgid/sticky, as on disk. */
  readonly mode: number;
  /** Bytes of content that follow (regular files only). */
  readonly size: number;
  /** Whole seconds since the epoch, floored (Go truncates to the second). */
  readonly mtime: number;
  readonly linkname?: string;
  readonly devmajor?: number;
  readonly devminor?: number;
  /** Owner; 0:0 (the CLI's build context) when not given. */
  readonly uid?: number;
  readonly gid?: number;
}

export const BLOCK = 512;
const NAME_SIZE = 100;
const PREFIX_SIZE = 155;

/** The two zero blocks that end an archive (Go's Writer.Close). */
export function tarEnd(): Buffer {
  return Buffer.alloc(2 * BLOCK);
}

/** Zero bytes that pad `size` bytes of content to a whole block. */
export function tarPadding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

/** The header block(s) for an entry: a PAX extended header first when USTAR cannot hold it. */
export function tarHeader(entry: TarEntry): Buffer {
  const pax: Record<string, string> = {};
  let ustar = true;
  const split = splitUstarPath(entry.name);
  if (!isAscii(entry.name) || entry.name.length > NAME_SIZE) {
    pax.path = entry.name;
    if (!split) ustar = false;
  }
  const link = entry.linkname ?? "";
  if (!isAscii(link) || link.length > NAME_SIZE) {
    pax.linkpath = link;
    ustar = false;
  }
  if (!fitsOctal(12, entry.size)) {
    pax.size = String(entry.size);
    ustar = false;
  }
  if (!fitsOctal(12, entry.mtime)) {
    pax.mtime = String(entry.mtime);
    ustar = false;
  }
  if (ustar) {
    const block = headerBlock(entry, split ? split.name : entry.name);
    if (split) writeString(block, 345, PREFIX_SIZE, split.prefix);
    return checksummed(block);
  }
  const records = Buffer.from(
    Object.keys(pax)
      .sort()
      .map((key) => paxRecord(key, pax[key] as string))
      .join(""),
  );
  return Buffer.concat([
    paxHeader(entry.name, records),
    records,
    tarPadding(records.length),
    checksummed(headerBlock(entry, toAscii(entry.name))),
  ]);
}

/** The main header's fields (Go's templateV7Plus); numbers that do not fit are 0, the PAX record rules. */
function headerBlock(entry: TarEntry, name: string): Buffer {
  const block = Buffer.alloc(BLOCK);
  writeString(block, 0, NAME_SIZE, name);
  writeOctal(block, 100, 8, entry.mode);
  writeOctal(block, 108, 8, entry.uid ?? 0);
  writeOctal(block, 116, 8, entry.gid ?? 0);
  writeOctal(block, 124, 12, entry.size);
  writeOctal(block, 136, 12, entry.mtime);
  block.write(TYPEFLAG[entry.type], 156, "latin1");
  writeString(block, 157, NAME_SIZE, toAscii(entry.linkname ?? ""));
  writeOctal(block, 329, 8, entry.devmajor ?? 0);
  writeOctal(block, 337, 8, entry.devminor ?? 0);
  return block;
}

/** The extended header entry itself, named dir/PaxHeaders.0/base as Go names it. */
function paxHeader(name: string, records: Buffer): Buffer {
  const trimmed = name.replace(/\/+$/, "");
  const cut = trimmed.lastIndexOf("/") + 1;
  const base = name.endsWith("/") ? "" : name.slice(cut);
  const dir = name.endsWith("/") ? trimmed : trimmed.slice(0, Math.max(cut - 1, 0));
  const paxName = toAscii([dir, "PaxHeaders.0", base].filter(Boolean).join("/"))
    .slice(0, NAME_SIZE)
    .replace(/\/+$/, "");
  const block = Buffer.alloc(BLOCK);
  writeString(block, 0, NAME_SIZE, paxName);
  writeOctal(block, 100, 8, 0);
  writeOctal(block, 108, 8, 0);
  writeOctal(block, 116, 8, 0);
  writeOctal(block, 124, 12, records.length);
  writeOctal(block, 136, 12, 0);
  block.write("x", 156, "latin1");
  return checksummed(block);
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const bytes = Buffer.byteLength(body);
  let size = bytes + String(bytes).length;
  if (String(size).length + bytes !== size) size = String(size).length + bytes;
  return `${size}${body}`;
}

/** USTAR magic and version, then the checksum: six octal digits, NUL, space. */
function checksummed(block: Buffer): Buffer {
  block.write("ustar\u000000", 257, "latin1");
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += block[i] as number;
  writeOctal(block, 148, 7, sum);
  block[155] = 0x20;
  return block;
}

function fitsOctal(width: number, value: number): boolean {
  return value >= 0 && (width >= 22 || value < 8 ** (width - 1));
}

function writeOctal(block: Buffer, offset: number, width: number, value: number): void {
  const digits = (fitsOctal(width, value) ? value : 0).toString(8).padStart(width - 1, "0");
  writeString(block, offset, width, digits);
}

/** Go's formatString: truncated to the field, NUL-terminated when shorter. */
function writeString(block: Buffer, offset: number, width: number, text: string): void {
  const bytes = Buffer.from(text, "latin1");
  bytes.copy(block, offset, 0, Math.min(bytes.length, width));
  if (bytes.length < width) block[offset + bytes.length] = 0;
  if (bytes.length > width && block[offset + width - 1] === 0x2f) {
    // A cut-off name must not end in "/" (readers would take a file for a directory).
    const kept = text.slice(0, width - 1).replace(/\/+$/, "").length;
    block[offset + kept] = 0;
  }
}

function isAscii(text: string): boolean {
  return /^[\x01-\x7f]*$/.test(text);
}

function toAscii(text: string): string {
  return text.replace(/[^\x00-\x7f]/gu, "");
}

/** Go's splitUSTARPath: a long ASCII name as prefix (≤155) + "/" + name (≤100). */
function splitUstarPath(name: string): { prefix: string; name: string } | undefined {
  let length = name.length;
  if (length <= NAME_SIZE || !isAscii(name)) return undefined;
  if (length > PREFIX_SIZE + 1) length = PREFIX_SIZE + 1;
  else if (name[length - 1] === "/") length--;
  const i = name.lastIndexOf("/", length - 1);
  const suffixLength = name.length - i - 1;
  if (i <= 0 || suffixLength > NAME_SIZE || suffixLength === 0 || i > PREFIX_SIZE) return undefined;
  return { prefix: name.slice(0, i), name: name.slice(i + 1) };
}

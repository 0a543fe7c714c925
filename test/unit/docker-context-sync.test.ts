import { execFileSync } from "node:child_process";
import { linkSync, lstatSync, rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  carriesData,
  dataPacketHead,
  decodePacket,
  encodeStat,
  goFileMode,
  goMatch,
  PACKET,
  packet,
  statPacket,
  syncWalk,
} from "../../src/docker/context-sync.js";
import { fileTree } from "../support/docker.js";

const roots: string[] = [];
afterAll(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

function tree(files: Record<string, string>): string {
  const root = fileTree(files, "ml-preview-sync-");
  roots.push(root);
  return root;
}

const paths = (root: string, request = {}) => syncWalk(root, request, true).map((s) => s.path);

describe("Go's os.FileMode, as fsutil sends it", () => {
  it("moves the unix type and special bits to Go's", () => {
    expect(goFileMode(0o100644)).toBe(0o644);
    expect(goFileMode(0o040755)).toBe(2 ** 31 + 0o755);
    expect(goFileMode(0o120777)).toBe(2 ** 27 + 0o777);
    expect(goFileMode(0o010644)).toBe(2 ** 25 + 0o644);
    expect(goFileMode(0o020666)).toBe(2 ** 26 + 2 ** 21 + 0o666);
    expect(goFileMode(0o060660)).toBe(2 ** 26 + 0o660);
    expect(goFileMode(0o041777)).toBe(2 ** 31 + 2 ** 20 + 0o777);
    expect(goFileMode(0o140755)).toBe(2 ** 24 + 0o755);
    expect(goFileMode(0o106755)).toBe(2 ** 23 + 2 ** 22 + 0o755);
  });

  it("only entries without type bits carry data (fileCanRequestData)", () => {
    expect(carriesData(goFileMode(0o104755))).toBe(true);
    for (const type of [0o040000, 0o120000, 0o010000, 0o020000, 0o060000])
      expect(carriesData(goFileMode(type | 0o644))).toBe(false);
  });
});

describe("fsutil's Packet and Stat on the wire", () => {
  it("encodes a Stat field by field, zero fields left out, a negative mtime as 10 varint bytes", () => {
    const bytes = encodeStat({
      path: "a",
      mode: 2 ** 31 + 0o755,
      uid: 0,
      gid: 0,
      size: 0n,
      modTime: -1n,
      linkname: "",
      devmajor: 0,
      devminor: 0,
    });
    expect(bytes.toString("hex")).toBe(["0a0161", "10ed83808008", "30ffffffffffffffffff01"].join(""));
  });

  it("frames STAT, the empty STAT that ends the list, DATA and FIN", () => {
    expect(statPacket().length).toBe(0);
    const stat = statPacket({
      path: "f",
      mode: 0o644,
      uid: 1,
      gid: 2,
      size: 3n,
      modTime: 4n,
      linkname: "l",
      devmajor: 0,
      devminor: 0,
    });
    expect(stat.toString("hex")).toBe(
      "1211" + "0a0166" + "10a403" + "1801" + "2002" + "2803" + "3004" + "3a016c",
    );
    expect(dataPacketHead(5, 3).toString("hex")).toBe("0802" + "1805" + "2203");
    expect(dataPacketHead(5, 0).toString("hex")).toBe("0802" + "1805");
    expect(decodePacket(Buffer.from("08011807", "hex"))).toMatchObject({ type: PACKET.req, id: 7 });
    expect(decodePacket(packet(PACKET.fin))).toMatchObject({ type: PACKET.fin, id: 0 });
    expect(decodePacket(packet(PACKET.err, "boom")).data.toString()).toBe("boom");
  });
});

describe("fsutil's walk", () => {
  it("walks a directory before its entries, names in byte order, owners 0:0, ns mtimes, first path of a hardlink", () => {
    const root = tree({ "b/x": "1", "a.txt": "22", "a/y": "", Z: "" });
    linkSync(join(root, "b/x"), join(root, "c-link"));
    symlinkSync("a.txt", join(root, "sym"));
    execFileSync("mkfifo", [join(root, "fifo")]);
    const stats = syncWalk(root, {}, true);
    expect(stats.map((s) => s.path)).toEqual(["Z", "a", "a/y", "a.txt", "b", "b/x", "c-link", "fifo", "sym"]);
    const by = (p: string) => stats.find((s) => s.path === p);
    expect(by("c-link")).toMatchObject({ linkname: "b/x", size: 1n, uid: 0, gid: 0 });
    expect(by("sym")).toMatchObject({ linkname: "a.txt", size: 5n, mode: 2 ** 27 + 0o777 });
    expect(by("fifo")?.mode).toBe(2 ** 25 + (lstatSync(join(root, "fifo")).mode & 0o777));
    expect(by("a")?.size).toBe(0n);
    expect(by("a.txt")?.modTime).toBe(lstatSync(join(root, "a.txt"), { bigint: true }).mtimeNs);
    expect(syncWalk(root, {}, false).find((s) => s.path === "Z")?.uid).toBe(process.getuid?.());
  });

  it("excludes as fsutil does: an excluded directory with an exception inside is sent itself", () => {
    const root = tree({ "data/keep.txt": "", "data/drop.txt": "", "logs/a.log": "", "app.py": "" });
    expect(paths(root, { excludes: ["data", "!data/keep.txt", "logs"] })).toEqual([
      "app.py",
      "data",
      "data/keep.txt",
    ]);
    expect(paths(root, { excludes: ["*.py", "data/*"] })).toEqual(["data", "logs", "logs/a.log"]);
  });

  it("includes what the patterns name, the directories on the way, and what follow-paths resolve to", () => {
    const root = tree({ "docker/Dockerfile.prod": "", "docker/other": "", ".dockerignore": "", "x/y/z": "" });
    symlinkSync("docker/Dockerfile.prod", join(root, "Dockerfile"));
    expect(paths(root, { includes: [".dockerignore"] })).toEqual([".dockerignore"]);
    expect(paths(root, { includes: ["x/y"] })).toEqual(["x", "x/y", "x/y/z"]);
    expect(paths(root, { followPaths: ["Dockerfile", "Dockerfile.dockerignore"] })).toEqual([
      "Dockerfile",
      "docker",
      "docker/Dockerfile.prod",
    ]);
  });

  it("matches include patterns with Go's filepath.Match", () => {
    expect(goMatch("*.md", "a.md")).toBe(true);
    expect(goMatch("*.md", "d/a.md")).toBe(false);
    expect(goMatch("[a-c]?", "bz")).toBe(true);
    expect(goMatch("[^a]", "a")).toBe(false);
    expect(goMatch("a\\*", "a*")).toBe(true);
    expect(goMatch("a\\*", "ab")).toBe(false);
  });
});

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  ContextFilter,
  contextFilter,
  parseDockerignore,
  readIgnoreFile,
} from "../../src/docker/dockerignore.js";

const texts = (text: string) => parseDockerignore(text).map((p) => p.text);

describe("parseDockerignore", () => {
  it("reads patterns like the docker CLI: BOM, comments before trim, exceptions, cleaned paths", () => {
    const text =
      "\uFEFF# comment\n  #indented-is-a-pattern\n\n*.log\n! keep.log\n/abs/path/\n./data//raw/\r\nsub/../x\n";
    expect(texts(text)).toEqual([
      "#indented-is-a-pattern",
      "*.log",
      "!keep.log",
      "abs/path",
      "data/raw",
      "x",
    ]);
  });

  it("trims what Go's TrimSpace trims (U+0085, U+00A0, U+3000), not what JavaScript's trim() adds (U+FEFF)", () => {
    expect(texts("a.txt\u0085\n\u00a0b.txt\u3000\n\ufeffc.txt\n")).toEqual(["a.txt", "b.txt", "\ufeffc.txt"]);
  });

  it("numbers lines as the file has them, blank and comment lines included", () => {
    expect(parseDockerignore("# c\n\nfoo\r\n bar\n").map((p) => p.line)).toEqual([3, 4]);
  });
});

const filter = (lines: string[], dockerfile = "Dockerfile") =>
  contextFilter({ patterns: lines.map((text, i) => ({ text, line: i + 1 })) }, [".dockerignore", dockerfile]);
const excludes = (f: ContextFilter, path: string) => f.match(path, undefined).excluded;

describe("contextFilter", () => {
  it("applies patterns in order, the last match wins", () => {
    const f = filter(["*.log", "!keep.log", "keep.log.d"]);
    expect(excludes(f, "a.log")).toBe(true);
    expect(excludes(f, "keep.log")).toBe(false);
    expect(excludes(f, "sub/a.log")).toBe(false); // `*` does not cross directories
    expect(excludes(f, "app.py")).toBe(false);
  });

  it("excludes everything under an excluded directory, and `**` crosses directories", () => {
    const f = filter(["data", "**/*.pyc"]);
    expect(excludes(f, "data")).toBe(true);
    expect(excludes(f, "data/deep/file.bin")).toBe(true);
    expect(excludes(f, "pkg/mod/x.pyc")).toBe(true);
    expect(excludes(f, "x.pyc")).toBe(true);
    expect(excludes(f, "database.csv")).toBe(false);
  });

  it("keeps the build files the builder needs, even when a pattern drops them", () => {
    const f = filter(["*", "!app.py"], "docker/Dockerfile.dev");
    expect(excludes(f, ".dockerignore")).toBe(false);
    expect(excludes(f, "docker/Dockerfile.dev")).toBe(false);
    expect(excludes(f, "docker")).toBe(true);
    expect(f.mustWalk("docker")).toBe(true);
    expect(excludes(f, "README.md")).toBe(true);
    // Only what `keep` names is kept.
    const dockerfileOnly = contextFilter({ patterns: [{ text: ".dockerignore", line: 1 }] }, ["Dockerfile"]);
    expect(excludes(dockerfileOnly, ".dockerignore")).toBe(true);
  });

  it("walks an excluded directory only when an exception starts inside it", () => {
    const f = filter(["docs", "!docs/keep.md", "cache"]);
    expect(excludes(f, "docs")).toBe(true);
    expect(f.mustWalk("docs")).toBe(true);
    expect(excludes(f, "docs/keep.md")).toBe(false);
    expect(excludes(f, "docs/other.md")).toBe(true);
    expect(f.mustWalk("cache")).toBe(false);
    expect(f.mustWalk("doc")).toBe(false);
  });

  it("is case sensitive, as on Linux", () => {
    const f = filter(["Data"]);
    expect(excludes(f, "Data")).toBe(true);
    expect(excludes(f, "data")).toBe(false);
  });

  it("refuses what Go's filepath.Match refuses, naming the file and line", () => {
    const make = (text: string) => () =>
      new ContextFilter([{ text, line: 7 }], "app.Dockerfile.dockerignore");
    for (const bad of ["foo[", "[]", "[a-]", "bad\\", "!", "[z-a]"]) {
      expect(make(bad), bad).toThrow(/^app\.Dockerfile\.dockerignore line 7: .* is not a valid pattern/);
    }
    for (const good of ["[ab]", "[^a]", "\\[x", "a\\b", "[a-z]?.md", "**/x/**"])
      expect(make(good), good).not.toThrow();
  });
});

describe("readIgnoreFile", () => {
  const root = mkdtempSync(join(tmpdir(), "ml-preview-ignore-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("prefers <Dockerfile>.dockerignore for BuildKit, .dockerignore for the classic builder", () => {
    mkdirSync(join(root, "docker"));
    writeFileSync(join(root, ".dockerignore"), "general\n");
    writeFileSync(join(root, "docker/app.Dockerfile.dockerignore"), "specific\n");
    expect(readIgnoreFile(root, "docker/app.Dockerfile", true)).toMatchObject({
      name: "docker/app.Dockerfile.dockerignore",
      patterns: [{ text: "specific" }],
    });
    expect(readIgnoreFile(root, "docker/app.Dockerfile", false)).toMatchObject({ name: ".dockerignore" });
    expect(readIgnoreFile(root, "Dockerfile", true)).toMatchObject({ name: ".dockerignore" });
  });
});

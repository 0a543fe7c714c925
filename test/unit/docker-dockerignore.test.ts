import { describe, expect, it } from "vitest";
import { contextFilter, parseDockerignore } from "../../src/docker/dockerignore.js";

describe("parseDockerignore", () => {
  it("reads patterns like the docker CLI: BOM, comments before trim, exceptions, cleaned paths", () => {
    const text =
      "\uFEFF# comment\n  #indented-is-a-pattern\n\n*.log\n! keep.log\n/abs/path/\n./data//raw/\r\nsub/../x\n";
    expect(parseDockerignore(text)).toEqual([
      "#indented-is-a-pattern",
      "*.log",
      "!keep.log",
      "abs/path",
      "data/raw",
      "x",
    ]);
  });
});

describe("contextFilter", () => {
  const filter = (lines: string[], dockerfile = "Dockerfile") => contextFilter(lines, dockerfile);

  it("applies patterns in order, the last match wins", () => {
    const f = filter(["*.log", "!keep.log", "keep.log.d"]);
    expect(f.excludes("a.log")).toBe(true);
    expect(f.excludes("keep.log")).toBe(false);
    expect(f.excludes("sub/a.log")).toBe(false); // `*` does not cross directories
    expect(f.excludes("app.py")).toBe(false);
  });

  it("excludes everything under an excluded directory, and `**` crosses directories", () => {
    const f = filter(["data", "**/*.pyc"]);
    expect(f.excludes("data")).toBe(true);
    expect(f.excludes("data/deep/file.bin")).toBe(true);
    expect(f.excludes("pkg/mod/x.pyc")).toBe(true);
    expect(f.excludes("x.pyc")).toBe(true);
    expect(f.excludes("database.csv")).toBe(false);
  });

  it("always keeps the Dockerfile and .dockerignore, even when a pattern drops them", () => {
    const f = filter(["*", "!app.py"], "docker/Dockerfile.dev");
    expect(f.excludes(".dockerignore")).toBe(false);
    expect(f.excludes("docker/Dockerfile.dev")).toBe(false);
    expect(f.excludes("docker")).toBe(true);
    expect(f.mustWalk("docker")).toBe(true);
    expect(f.excludes("README.md")).toBe(true);
  });

  it("walks an excluded directory only when an exception starts inside it", () => {
    const f = filter(["docs", "!docs/keep.md", "cache"]);
    expect(f.excludes("docs")).toBe(true);
    expect(f.mustWalk("docs")).toBe(true);
    expect(f.excludes("docs/keep.md")).toBe(false);
    expect(f.excludes("docs/other.md")).toBe(true);
    expect(f.mustWalk("cache")).toBe(false);
    expect(f.mustWalk("doc")).toBe(false);
  });

  it("is case sensitive, as on Linux", () => {
    const f = filter(["Data"]);
    expect(f.excludes("Data")).toBe(true);
    expect(f.excludes("data")).toBe(false);
  });

  it("never excludes the context root", () => {
    const f = filter(["*", "."]);
    expect(f.excludes(".")).toBe(false);
    expect(f.excludes("")).toBe(false);
  });
});

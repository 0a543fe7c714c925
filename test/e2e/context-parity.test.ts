import { execFileSync } from "node:child_process";
import { chmodSync, linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildWithEngine } from "../../src/docker/build.js";
import type { Builder } from "../../src/docker/builder-choice.js";
import { PreviewError } from "../../src/errors.js";
import { silentLogger } from "../../src/log.js";
import { BuildRecorder, type TarEntryRead } from "../support/context-capture.js";

/**
 * Differential: the build request the docker CLI (`DOCKER_BUILDKIT=0 docker build`, the reference on
 * PATH) sends to a stand-in engine socket, against the one ml-preview sends for the same context, entry
 * by entry: name (directories with their "/"), type, mode, owner, mtime, link target, device, content.
 */

const recorder = new BuildRecorder();
const dirs: string[] = [];
beforeAll(() => recorder.start());
afterAll(async () => {
  await recorder.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

type Layout = Record<string, string>;

/** A context from `files` (a trailing "/" makes a directory); the caller adds the special cases. */
function makeContext(files: Layout): string {
  const root = mkdtempSync(join(tmpdir(), "ml-preview-parity-"));
  chmodSync(root, 0o755);
  dirs.push(root);
  for (const [name, content] of Object.entries(files)) {
    const path = join(root, name);
    if (name.endsWith("/")) mkdirSync(path, { recursive: true });
    else {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, content);
    }
  }
  return root;
}

const ours = (socketPath: string) => new Docker({ socketPath });

/** What the CLI sent and what we sent, for one context. */
async function both(root: string, opts: { dockerfile?: string; builder?: Builder; cliArgs?: string[] } = {}) {
  const count = recorder.builds.length;
  const cli = await recorder.cliBuild(root, opts.cliArgs ?? []);
  expect(recorder.builds.length, `the CLI sent no build request: ${cli.output}`).toBe(count + 1);
  const fromCli = recorder.last();
  const err = await buildWithEngine(
    ours(recorder.socket),
    {
      context: root,
      dockerfile: opts.dockerfile ?? "Dockerfile",
      buildArgs: {},
      tag: "parity:test",
      labels: {} as never,
      builder: opts.builder ?? "classic",
    },
    silentLogger,
  ).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(recorder.builds.length, `we sent no build request: ${String(err)}`).toBe(count + 2);
  return { cli: fromCli, ours: recorder.last() };
}

function byName(entries: TarEntryRead[]) {
  return entries.map((e) => ({ ...e }));
}

async function expectSameContext(root: string, opts: { dockerfile?: string } = {}) {
  const { cli, ours: sent } = await both(root, opts);
  expect(byName(sent.entries)).toEqual(byName(cli.entries));
  expect(sent.query.get("dockerfile")).toBe(cli.query.get("dockerfile"));
  return cli.entries;
}

const DOCKERFILE = "FROM scratch\nCOPY . /ctx\n";

describe("the build context, entry by entry as the docker CLI sends it", () => {
  it("a common app: sources, nested folders, an empty folder, symlinks of every kind", async () => {
    const root = makeContext({
      Dockerfile: DOCKERFILE,
      "app.py": "print('hi')\n",
      "pkg/__init__.py": "",
      "pkg/mod/deep.py": "x = 1\n",
      "empty/": "",
      "weights.bin": "w".repeat(300_000),
      "ünïcode-名前.txt": "u",
    });
    symlinkSync("app.py", join(root, "link-file"));
    symlinkSync("pkg", join(root, "link-dir"));
    symlinkSync("does/not/exist", join(root, "dangling"));
    symlinkSync(`/${"t".repeat(150)}`, join(root, "long-target"));
    mkdirSync(join(root, "n".repeat(90), "m".repeat(90)), { recursive: true });
    writeFileSync(join(root, "n".repeat(90), "m".repeat(90), "f".repeat(99)), "long");
    writeFileSync(join(root, "x".repeat(200)), "too long for ustar");
    const entries = await expectSameContext(root);
    expect(entries.map((e) => e.name)).toContain("pkg/mod/");
  });

  it("modes as on disk, whatever the umask", async () => {
    const root = makeContext({
      Dockerfile: DOCKERFILE,
      "rw-all": "a",
      "exec-all": "b",
      group: "c",
      "d777/": "",
      "sticky/": "",
      "setgid/": "",
    });
    chmodSync(join(root, "rw-all"), 0o666);
    chmodSync(join(root, "exec-all"), 0o777);
    chmodSync(join(root, "group"), 0o664);
    chmodSync(join(root, "d777"), 0o777);
    chmodSync(join(root, "sticky"), 0o1777);
    chmodSync(join(root, "setgid"), 0o2775);
    const entries = await expectSameContext(root);
    expect(entries.find((e) => e.name === "sticky/")?.mode).toBe(0o1777);
  });

  it("times before 1970 and after 2038, files and directories", async () => {
    const root = makeContext({
      Dockerfile: DOCKERFILE,
      "old.txt": "o",
      "y2040.txt": "f",
      "y2300.txt": "g",
      "frac.txt": "h",
      "olddir/": "",
    });
    // Node's utimes turns negative times into "now": touch sets them.
    const touch = (name: string, at: string) => execFileSync("touch", ["-h", "-d", at, join(root, name)]);
    touch("old.txt", "@-315619200"); // 1960
    touch("y2040.txt", "@2208988800");
    touch("y2300.txt", "@10413792000");
    touch("frac.txt", "@-1.5");
    touch("olddir", "@-86400");
    const entries = await expectSameContext(root);
    expect(entries.find((e) => e.name === "old.txt")?.mtime).toBe(-315619200);
  });

  it("hardlinks as links to the first name, FIFOs and devices as such, sockets left out", async () => {
    const root = makeContext({ Dockerfile: DOCKERFILE, "a/original": "shared bytes", "b/": "" });
    linkSync(join(root, "a/original"), join(root, "b/second"));
    linkSync(join(root, "a/original"), join(root, "third"));
    execFileSync("mkfifo", [join(root, "pipe")]);
    execFileSync("mknod", [join(root, "null"), "c", "1", "3"]);
    const sock = createServer().listen(join(root, "socket"));
    await new Promise((r) => sock.once("listening", r));
    try {
      const entries = await expectSameContext(root);
      expect(entries.find((e) => e.name === "third")).toMatchObject({ type: "1", linkname: "a/original" });
      expect(entries.find((e) => e.name === "pipe")?.type).toBe("6");
    } finally {
      sock.close();
    }
  });
});

describe(".dockerignore as the docker CLI reads it", () => {
  const cases: [string, string, Layout][] = [
    [
      "the common forms: globs, exceptions, folders, **",
      "*.log\n!keep.log\ndata\n!data/keep.txt\nnode_modules\n**/*.pyc\n/abs/path/\n./cache//x/\n",
      {
        "a.log": "",
        "keep.log": "",
        "data/big.bin": "",
        "data/keep.txt": "",
        "data/sub/f": "",
        "node_modules/p/i.js": "",
        "src/m.pyc": "",
        "src/m.py": "",
        "abs/path/f": "",
        "cache/x/y": "",
        "sub/a.log": "",
      },
    ],
    [
      "a leading-space # is a pattern, only column one starts a comment",
      " # x\n#comment\n",
      { "# x": "", "#comment": "", other: "" },
    ],
    [
      "Go's TrimSpace trims U+0085 and U+00A0, keeps U+FEFF in the middle",
      "secret.txt\u0085\n\u00a0notes.md\nbom\ufeff.txt\n",
      { "secret.txt": "", "notes.md": "", "bom\ufeff.txt": "", keep: "" },
    ],
    [
      "CRLF lines, a BOM, escapes, classes and ?",
      "\ufeffone.txt\r\n\\#lit\r\n[ab].md\r\n?.cfg\r\ndir/**\r\n!dir/**/keep\r\n",
      {
        "one.txt": "",
        "#lit": "",
        "a.md": "",
        "c.md": "",
        "x.cfg": "",
        "xy.cfg": "",
        "dir/f": "",
        "dir/s/keep": "",
      },
    ],
    [
      "the Dockerfile and .dockerignore listed in .dockerignore are sent anyway (the engine removes them)",
      "Dockerfile\n.dockerignore\n*.md\n",
      { "README.md": "", "app.py": "" },
    ],
    [
      "everything excluded but exceptions deep inside excluded folders",
      "*\n!src/**/*.py\n!Dockerfile\n",
      { "src/a/b.py": "", "src/a/c.txt": "", "top.py": "" },
    ],
  ];
  for (const [title, ignore, files] of cases) {
    it(title, async () => {
      const root = makeContext({ Dockerfile: DOCKERFILE, ".dockerignore": ignore, ...files });
      await expectSameContext(root);
    });
  }

  it("a Dockerfile inside an excluded folder", async () => {
    const root = makeContext({
      "docker/Dockerfile.dev": DOCKERFILE,
      "docker/secret.env": "T=1",
      ".dockerignore": "docker\n",
      "app.py": "",
    });
    const { cli, ours: sent } = await both(root, {
      dockerfile: "docker/Dockerfile.dev",
      cliArgs: ["-f", join(root, "docker/Dockerfile.dev")],
    });
    expect(sent.entries).toEqual(cli.entries);
  });
});

describe("what the CLI refuses, we refuse before sending anything, naming the file", () => {
  const refused: [string, string, RegExp][] = [
    ["a malformed class", "ok.txt\nfoo[\n", /\.dockerignore line 2: "foo\[" is not a valid pattern/],
    ["a lone !", "!\n", /\.dockerignore line 1: "!" is not a valid pattern/],
    ["a trailing backslash", "a\nb\nbad\\\n", /\.dockerignore line 3: "bad\\\\" is not a valid pattern/],
  ];
  for (const [title, ignore, message] of refused) {
    it(title, async () => {
      const root = makeContext({ Dockerfile: DOCKERFILE, ".dockerignore": ignore, "app.py": "" });
      await expectBothRefuse(root, message);
    });
  }

  it("a .dockerignore that is a directory", async () => {
    const root = makeContext({ Dockerfile: DOCKERFILE, ".dockerignore/": "", "app.py": "" });
    await expectBothRefuse(root, /\.dockerignore in the build context .* is a directory/);
  });
});

async function expectBothRefuse(root: string, message: RegExp) {
  const count = recorder.builds.length;
  const cli = await recorder.cliBuild(root);
  expect(cli.code, cli.output).not.toBe(0);
  const err = await buildWithEngine(
    ours(recorder.socket),
    {
      context: root,
      dockerfile: "Dockerfile",
      buildArgs: {},
      tag: "parity:test",
      labels: {} as never,
      builder: "classic",
    },
    silentLogger,
  ).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PreviewError);
  expect((err as Error).message).toMatch(message);
  expect(recorder.builds.length).toBe(count);
}

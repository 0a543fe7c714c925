import { execFile, execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  chownSync,
  copyFileSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dockerfile as resolveDockerfile } from "../../src/config/check/paths.js";
import { type BuildResult, buildWithEngine } from "../../src/docker/build.js";
import type { Builder } from "../../src/docker/builder-choice.js";
import { PreviewError } from "../../src/errors.js";
import { silentLogger } from "../../src/log.js";
import {
  BuildRecorder,
  buildKitCli,
  legacyTypeBits,
  runDocker,
  type TarEntryRead,
  tarEntries,
  tarFile,
  withoutLegacyTypeBits,
} from "../support/context-capture.js";
import { busyboxPath, fileTree, requireDocker } from "../support/docker.js";
import { labelsFor, uniqueRun } from "../support/preview-containers.js";

/**
 * Differential: the build request the docker CLI (`DOCKER_BUILDKIT=0 docker build`, the reference on
 * PATH) sends to a stand-in engine socket, against the one ml-preview sends for the same context, entry
 * by entry: name (directories with their "/"), type, mode, owner, mtime, link target, device, content.
 * With BuildKit the same, stat for stat, through the session (`DOCKER_BUILDKIT=1 docker build` of a CLI with
 * its own BuildKit client, against the stand-in engine pulling the context as BuildKit does); and both
 * builds for real on the engine, their images' trees compared.
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
  const root = fileTree(files, "ml-preview-parity-");
  chmodSync(root, 0o755);
  dirs.push(root);
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

/**
 * The CLI's entries in the format of docker CLI 25+ (current; what GitHub's runners ship), which ml-preview
 * matches. Older CLIs (Debian's docker.io 20.10) differ in one documented way only: moby's archive then
 * added Go 1.8's file-type bits to every mode (fillGo18FileTypeBits, removed in moby 25). Exactly those
 * bits, checked against each entry's type, are taken off; nothing else is forgiven.
 */
function asCurrentCli(entries: TarEntryRead[]): TarEntryRead[] {
  return entries.map((e) => {
    if (e.mode <= 0o7777) return e;
    expect(e.mode & ~0o7777, `${e.name}: type bits of a pre-25 docker CLI`).toBe(legacyTypeBits(e.type));
    return { ...e, mode: e.mode & 0o7777 };
  });
}

async function expectSameContext(root: string, opts: { dockerfile?: string } = {}) {
  const { cli, ours: sent } = await both(root, opts);
  expect(sent.entries).toEqual(asCurrentCli(cli.entries));
  // Beyond the entries, the very bytes: the same tar headers, padding and end as the current CLI's
  // (Go's archive/tar). A pre-25 CLI's headers differ in more than the modes; its entries are compared.
  if (!cli.entries.some((e) => e.mode > 0o7777))
    expect(sent.body.equals(cli.body), "the CLI's very bytes").toBe(true);
  expect(sent.query.get("dockerfile")).toBe(cli.query.get("dockerfile"));
  return sent.entries;
}

const DOCKERFILE = "FROM scratch\nCOPY . /ctx\n";

/**
 * The one deliberate difference (see src/docker/context-credentials.ts): a git config file goes without
 * its `extraheader` lines, where actions/checkout keeps the job's token. Everything else as the CLI.
 */
const CHECKOUT_TOKEN = Buffer.from("x-access-token:ghs_paritytoken0123456789").toString("base64");
const CONFIG_WITHOUT = '[core]\n\tbare = false\n[http "https://github.com/"]\n';
const CONFIG_WITH = CONFIG_WITHOUT + `\textraheader = AUTHORIZATION: basic ${CHECKOUT_TOKEN}\n`;
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

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

  it("a .git/config with actions/checkout's token: the one difference, that file without its extraheader line", async () => {
    const root = makeContext({
      Dockerfile: DOCKERFILE,
      ".git/config": CONFIG_WITH,
      ".git/HEAD": "ref: refs/heads/main\n",
      ".git/modules/lib/config": CONFIG_WITH,
      "app.py": "print(1)\n",
    });
    const { cli, ours: sent } = await both(root);
    expect(cli.body.includes(CHECKOUT_TOKEN), "the CLI sends the token").toBe(true);
    expect(sent.body.includes(CHECKOUT_TOKEN)).toBe(false);
    const stripped = { size: CONFIG_WITHOUT.length, sha256: sha256(CONFIG_WITHOUT) };
    expect(sent.entries).toEqual(
      asCurrentCli(cli.entries).map((e) => (e.name.endsWith("/config") ? { ...e, ...stripped } : e)),
    );
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
      "a backslash escapes on Linux, as in the CLI: logs\\* is the file named logs*",
      "logs\\*\n",
      { "logs/a": "", logsa: "", "logs*": "" },
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
    expect(sent.entries).toEqual(asCurrentCli(cli.entries));
  });
});

describe("what the CLI refuses, we refuse before sending anything, naming the file", () => {
  const refused: [string, string, RegExp][] = [
    ["a malformed class", "ok.txt\nfoo[\n", /\.dockerignore line 2: "foo\[" is not a valid pattern/],
    ["a lone !", "!\n", /\.dockerignore line 1: "!" is not a valid pattern/],
    ["a trailing backslash", "a\nb\nbad\\\n", /\.dockerignore line 3: "bad\\\\" is not a valid pattern/],
    [
      "a Windows path (\\x is no escape Go's regexp knows)",
      "sub\\x.txt\n",
      /\.dockerignore line 1: "sub\\\\x\.txt" is not a valid pattern/,
    ],
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

describe("the Dockerfile the CLI picks", () => {
  it("falls back to a lowercase dockerfile when there is no Dockerfile, as docker build does", async () => {
    const root = makeContext({ dockerfile: DOCKERFILE, "app.py": "" });
    const chosen = resolveDockerfile(root, "Dockerfile");
    expect(chosen).toBe("dockerfile");
    const { cli, ours: sent } = await both(root, { dockerfile: chosen });
    expect(sent.query.get("dockerfile")).toBe(cli.query.get("dockerfile"));
    expect(sent.entries).toEqual(asCurrentCli(cli.entries));
  });
});

describe("BuildKit's file sync, stat for stat and byte for byte as the docker CLI's", () => {
  /** What `DOCKER_BUILDKIT=1 docker build` and ml-preview's BuildKit build send through their sessions. */
  async function bothSynced(root: string, meta: Record<string, string[]> = {}) {
    recorder.syncMeta = meta;
    const count = recorder.builds.length;
    const cli = await recorder.cliBuildKit(root);
    expect(recorder.builds.length, `the CLI sent no build: ${cli.output}`).toBe(count + 1);
    const fromCli = recorder.lastSynced();
    const err = await buildWithEngine(
      ours(recorder.socket),
      {
        context: root,
        dockerfile: "Dockerfile",
        buildArgs: {},
        tag: "parity:bk",
        labels: {} as never,
        builder: "buildkit",
      },
      silentLogger,
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(recorder.builds.length, `we sent no build: ${String(err)}`).toBe(count + 2);
    expect(new URL(recorder.builds.at(-1)?.url ?? "", "http://e").searchParams.get("dockerfile")).toBe(
      "Dockerfile",
    );
    return { cli: fromCli, ours: recorder.lastSynced() };
  }

  it("every kind of entry: modes, nanosecond and pre-1970 times, links, a FIFO, a device, a socket", async () => {
    const root = makeContext({
      Dockerfile: DOCKERFILE,
      ".dockerignore": "*.log\n",
      "app.py": "print(1)\n",
      "pkg/mod/deep.py": "x = 1\n",
      "empty/": "",
      "weights.bin": "w".repeat(700_000),
      "ünïcode-名前.txt": "u",
      "a.log": "",
      "rw-all": "rw",
      "sticky/": "",
    });
    chmodSync(join(root, "rw-all"), 0o666);
    chmodSync(join(root, "sticky"), 0o1777);
    execFileSync("chmod", ["u+s,g+s", join(root, "app.py")]);
    // Owned by someone else: the CLI sends the context's owners as 0:0.
    chownSync(join(root, "pkg/mod/deep.py"), 1234, 5678);
    execFileSync("touch", ["-h", "-d", "@-315619200.5", join(root, "pkg/mod/deep.py")]);
    execFileSync("touch", ["-h", "-d", "@1700000000.123456789", join(root, "app.py")]);
    linkSync(join(root, "app.py"), join(root, "pkg/alias.py"));
    symlinkSync("pkg", join(root, "link-dir"));
    symlinkSync("/does/not/exist", join(root, "dangling"));
    execFileSync("mkfifo", [join(root, "pipe")]);
    execFileSync("mknod", [join(root, "null"), "c", "1", "3"]);
    const sock = createServer().listen(join(root, "socket"));
    await new Promise((r) => sock.once("listening", r));
    try {
      const { cli, ours: sent } = await bothSynced(root);
      expect(sent).toEqual(cli);
      const by = (p: string) => sent.find((e) => e.path === p);
      expect(by("app.py")?.modTime).toBe(1700000000123456789n);
      expect(by("pkg/alias.py")?.linkname).toBe("app.py");
      expect(by("null")).toMatchObject({ devmajor: 1n, devminor: 3n });
      expect(sent.every((e) => e.uid === 0 && e.gid === 0)).toBe(true);
      // Nothing is filtered by the client: the engine sends the patterns (none here).
      expect(by("a.log")).toBeDefined();
    } finally {
      sock.close();
    }
  });

  it("a .git/config with actions/checkout's token: the one difference, that file without its extraheader line", async () => {
    const root = makeContext({
      Dockerfile: DOCKERFILE,
      ".git/config": CONFIG_WITH,
      ".git/HEAD": "ref: refs/heads/main\n",
      "app.py": "print(1)\n",
    });
    const { cli, ours: sent } = await bothSynced(root);
    const stripped = { size: BigInt(CONFIG_WITHOUT.length), sha256: sha256(CONFIG_WITHOUT) };
    expect(cli.find((e) => e.path === ".git/config")?.sha256).toBe(sha256(CONFIG_WITH));
    expect(sent).toEqual(cli.map((e) => (e.path === ".git/config" ? { ...e, ...stripped } : e)));
  });

  it("the engine's exclude patterns, with exceptions inside excluded folders", async () => {
    const root = makeContext({
      Dockerfile: DOCKERFILE,
      "data/keep.txt": "k",
      "data/drop.txt": "d",
      "data/sub/deep.txt": "",
      "logs/a.log": "",
      "keep.log": "",
      "src/m.pyc": "",
      "src/m.py": "",
    });
    const excludes = ["*.log", "!keep.log", "data", "!data/keep.txt", "**/*.pyc", "Dockerfile"];
    const { cli, ours: sent } = await bothSynced(root, { "exclude-patterns": excludes });
    expect(sent).toEqual(cli);
    expect(sent.map((e) => e.path)).toEqual([
      "data",
      "data/keep.txt",
      "keep.log",
      "logs",
      "logs/a.log",
      "src",
      "src/m.py",
    ]);
  });

  it("include patterns and follow-paths, a symlinked Dockerfile followed to its target", async () => {
    const root = makeContext({
      "docker/Dockerfile.prod": DOCKERFILE,
      "docker/other": "",
      "x/y/z": "",
      w: "",
    });
    symlinkSync("docker/Dockerfile.prod", join(root, "Dockerfile"));
    const meta = { followpaths: ["Dockerfile", "Dockerfile.dockerignore"], "include-patterns": ["x/y"] };
    const { cli, ours: sent } = await bothSynced(root, meta);
    expect(sent).toEqual(cli);
    expect(sent.map((e) => e.path)).toEqual([
      "Dockerfile",
      "docker",
      "docker/Dockerfile.prod",
      "x",
      "x/y",
      "x/y/z",
    ]);
  });
});

describe("never a hang: what cannot be read fails at once, naming it", () => {
  const NOBODY = 65534;
  // dist/ as users run it, copied where an unprivileged user can read it (the checkout may be under /root).
  let cliJs = "";
  beforeAll(() => {
    const copy = mkdtempSync(join(tmpdir(), "ml-preview-dist-"));
    dirs.push(copy);
    chmodSync(copy, 0o755);
    for (const file of ["cli.js", "index.js"])
      copyFileSync(join(process.cwd(), "dist", file), join(copy, file));
    cliJs = join(copy, "cli.js");
  });

  /** ml-preview's CLI (dist/, as users run it) and docker build, both as an unprivileged user. */
  async function asNobody(root: string) {
    const count = recorder.started;
    const cli = await recorder.cliBuild(root, [], NOBODY);
    const env = { ...process.env, DOCKER_HOST: `unix://${recorder.socket}`, HOME: tmpdir(), CI: "" };
    const tool = await new Promise<{ code: number; output: string }>((resolve) => {
      execFile(
        "setpriv",
        [
          `--reuid=${NOBODY}`,
          `--regid=${NOBODY}`,
          "--clear-groups",
          "node",
          cliJs,
          "up",
          ".",
          "--tunnel",
          "none",
          "--port",
          "8080",
        ],
        { cwd: root, env },
        (err, stdout, stderr) => resolve({ code: err ? 1 : 0, output: `${stdout}${stderr}` }),
      );
    });
    expect(recorder.started, "no build request may start").toBe(count);
    return { cli, tool };
  }

  it("a root-owned 0600 file left by a container step", async () => {
    const root = makeContext({ Dockerfile: DOCKERFILE, "app.py": "", "out/model.pt": "weights" });
    chmodSync(join(root, "out/model.pt"), 0o600);
    const { cli, tool } = await asNobody(root);
    expect(cli.output).toMatch(/no permission to read from '.*out\/model\.pt'/);
    expect(tool.code).toBe(1);
    expect(tool.output).toMatch(
      /out\/model\.pt in .* cannot be read \(permission denied\).*chmod a\+r 'out\/model\.pt'/,
    );
  });

  it("a directory it cannot list", async () => {
    const root = makeContext({ Dockerfile: DOCKERFILE, "app.py": "", "cache/x": "" });
    chmodSync(join(root, "cache"), 0o700);
    const { cli, tool } = await asNobody(root);
    expect(cli.code).not.toBe(0);
    expect(tool.output).toMatch(/cache\/ in .* cannot be read \(permission denied\).*chmod a\+rx 'cache'/);
  });

  it("a FIFO named .dockerignore or Dockerfile (docker build itself blocks on the first)", async () => {
    for (const [fifo, message] of [
      [".dockerignore", /\.dockerignore in the build context .* is not a regular file/],
      ["Dockerfile", /No Dockerfile at .*\/Dockerfile/],
    ] as const) {
      const root = makeContext({
        ...(fifo === "Dockerfile" ? {} : { Dockerfile: DOCKERFILE }),
        "app.py": "",
      });
      execFileSync("mkfifo", [join(root, fifo)]);
      const started = recorder.started;
      const err = await buildWithEngine(
        ours(recorder.socket),
        { context: root, dockerfile: "Dockerfile", buildArgs: {}, tag: "parity:fifo", labels: {} as never },
        silentLogger,
      ).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((err as Error).message).toMatch(message);
      expect(recorder.started).toBe(started);
    }
  });

  it("a read error in the middle of the upload ends the request at once, naming the file", async () => {
    const root = makeContext({ Dockerfile: DOCKERFILE, "a.py": "" });
    const big = join(root, "z-weights.bin");
    writeFileSync(big, "");
    truncateSync(big, 256 << 20);
    recorder.onBodyStart = () => truncateSync(big, 1 << 20);
    const broken = recorder.broken.length;
    try {
      const err = await buildWithEngine(
        ours(recorder.socket),
        {
          context: root,
          dockerfile: "Dockerfile",
          buildArgs: {},
          tag: "parity:cut",
          labels: {} as never,
          builder: "classic",
        },
        silentLogger,
      ).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(PreviewError);
      expect((err as Error).message).toMatch(
        /reading z-weights\.bin failed \(it shrank from 268435456 to \d+ bytes/,
      );
      await expect.poll(() => recorder.broken.length).toBe(broken + 1);
    } finally {
      recorder.onBodyStart = undefined;
    }
  });
});

describe("built for real on the engine, as the CLI builds it", () => {
  let docker: Docker;
  const run = uniqueRun("parity");
  const tags: string[] = [];
  beforeAll(async () => {
    docker = await requireDocker();
  });
  afterAll(async () => {
    for (const tag of tags)
      await docker
        .getImage(tag)
        .remove({ force: true })
        .catch(() => undefined);
  });

  /** A context with a bit of everything above: directories, odd modes and times, links, a FIFO. */
  function richContext(): string {
    const root = makeContext({
      Dockerfile: "FROM scratch\nCOPY busybox /bin/busybox\nCOPY . /ctx\n",
      ".dockerignore": "*.log\n!keep.log\n # spaced\n",
      "app/main.py": "print(1)\n",
      "app/pkg/__init__.py": "",
      "data/empty/": "",
      "a.log": "",
      "keep.log": "k",
      " # spaced": "",
      "rw-all": "rw",
    });
    copyFileSync(busyboxPath(), join(root, "busybox"));
    chmodSync(join(root, "rw-all"), 0o666);
    chmodSync(join(root, "data"), 0o2775);
    execFileSync("touch", ["-h", "-d", "@-315619200", join(root, "keep.log")]);
    execFileSync("touch", ["-h", "-d", "@2208988800", join(root, "app/main.py")]);
    linkSync(join(root, "app/main.py"), join(root, "app/alias.py"));
    symlinkSync("app", join(root, "link"));
    execFileSync("mkfifo", [join(root, "pipe")]);
    return root;
  }

  const tag = (name: string) => {
    const t = `ml-preview-parity:${run}-${name}`;
    tags.push(t);
    return t;
  };

  async function cliBuild(root: string, t: string) {
    const out = await runDocker(["build", "-t", t, root], { ...process.env, DOCKER_BUILDKIT: "0" });
    expect(out.code, out.output).toBe(0);
  }

  async function ourBuild(root: string, t: string, builder: Builder = "classic") {
    return buildWithEngine(
      docker,
      {
        context: root,
        dockerfile: "Dockerfile",
        buildArgs: {},
        tag: t,
        labels: labelsFor(run, "parity"),
        builder,
      },
      silentLogger,
    );
  }

  it("the same tree in the image, entry for entry", async () => {
    const root = richContext();
    await cliBuild(root, tag("cli"));
    // A second context, same files: no layer cache can make the two equal, only the same tar can.
    const copy = `${root}-copy`;
    dirs.push(copy);
    execFileSync("cp", ["-a", root, copy]);
    await ourBuild(copy, tag("ours"), "classic");
    const [cli, mine] = [await topLayer(docker, tag("cli")), await topLayer(docker, tag("ours"))];
    expect(mine.map(({ mtime, ...e }) => e)).toEqual(cli.map(({ mtime, ...e }) => e));
    // The /ctx directory itself is made at COPY time; every entry from the context keeps its time.
    expect(mine.filter((e) => e.name !== "ctx/")).toEqual(cli.filter((e) => e.name !== "ctx/"));
    expect(mine.find((e) => e.name === "ctx/app/main.py")?.mtime).toBe(2208988800);
  });

  /** The docker CLI's own BuildKit build (its session, its file sync), without the layer cache. */
  async function cliBuildKit(root: string, t: string, args: string[] = []) {
    const env = { ...process.env, DOCKER_BUILDKIT: "1" };
    const out = await runDocker(
      ["build", "--no-cache", "-t", t, ...args, root],
      env,
      undefined,
      undefined,
      buildKitCli(),
    );
    expect(out.code, out.output).toBe(0);
  }

  /** Ours with BuildKit, without the layer cache: BuildKit's cache keys ignore mtimes, so a hit would hide them. */
  async function ourBuildKit(root: string, t: string, dockerfile = "Dockerfile") {
    const result = await buildWithEngine(
      docker,
      {
        context: root,
        dockerfile,
        buildArgs: {},
        tag: t,
        labels: labelsFor(run, "parity"),
        builder: "buildkit",
        noCache: true,
      },
      silentLogger,
    );
    expect(result.builder).toBe("buildkit");
    return result;
  }

  /**
   * Both BuildKit builds' top layers, entry for entry. Directories keep no time through BuildKit 0.8's
   * file sync (it writes them when their entries arrive: the image shows when the build ran, for the
   * CLI's build too), so theirs are compared without it; files, links and FIFOs with theirs.
   */
  async function expectSameTree(cliTag: string, ourTag: string) {
    const timeless = (entries: TarEntryRead[]) =>
      entries.map((e) => (e.type === "5" ? { ...e, mtime: undefined } : e));
    const [cli, mine] = [await topLayer(docker, cliTag), await topLayer(docker, ourTag)];
    expect(timeless(mine)).toEqual(timeless(cli));
    return mine;
  }

  it("with BuildKit, the tree the CLI's BuildKit build makes; Dockerfile and .dockerignore listed in .dockerignore stay out", async () => {
    const root = richContext();
    writeFileSync(join(root, ".dockerignore"), "*.log\n!keep.log\n # spaced\nDockerfile\n.dockerignore\n");
    let sent: BuildResult | undefined;
    const copy = `${root}-copy`;
    dirs.push(copy);
    execFileSync("cp", ["-a", root, copy]);
    const pipes = enginePipes();
    const sockets = [root, copy].map((dir) => createServer().listen(join(dir, "socket")));
    await Promise.all(sockets.map((sock) => new Promise((r) => sock.once("listening", r))));
    try {
      await cliBuildKit(root, tag("bk-cli"));
      sent = await ourBuildKit(copy, tag("bk-ours"));
    } finally {
      for (const sock of sockets) sock.close();
    }
    // The session ended with the build.
    await expect.poll(enginePipes).toBe(pipes);
    const mine = await expectSameTree(tag("bk-cli"), tag("bk-ours"));
    // A socket arrives as an empty file, for the CLI's BuildKit build too (fsutil clears its type bit).
    expect(mine.find((e) => e.name === "ctx/socket")).toMatchObject({ type: "0", size: 0 });
    const names = mine.map((e) => e.name);
    expect(names).not.toContain("ctx/Dockerfile");
    expect(names).not.toContain("ctx/.dockerignore");
    expect(names).toContain("ctx/keep.log");
    expect(mine.find((e) => e.name === "ctx/keep.log")?.mtime).toBe(-315619200);
    expect((mine.find((e) => e.name === "ctx/rw-all")?.mode ?? 0) & 0o7777).toBe(0o666);
    expect(sent?.contextBytes).toBeGreaterThan(0);
  });

  it("with BuildKit, <Dockerfile>.dockerignore applied as the CLI's BuildKit build applies it", async () => {
    const files = {
      Dockerfile: "FROM scratch\nCOPY . /ctx\n",
      "Dockerfile.dockerignore": "*.md\nsecret\n.dockerignore\nDockerfile.dockerignore\n",
      ".dockerignore": "app\n",
      "app/main.py": "print(1)\n",
      "notes.md": "n",
      "secret/key": "k",
      "data/keep.md": "",
    };
    const [theirs, mine] = [makeContext(files), makeContext(files)];
    await cliBuildKit(theirs, tag("bk-cli-ignore"));
    await ourBuildKit(mine, tag("bk-ignore"));
    const tree = await expectSameTree(tag("bk-cli-ignore"), tag("bk-ignore"));
    expect(tree.map((e) => e.name).sort()).toEqual([
      "ctx/",
      "ctx/Dockerfile",
      "ctx/app/",
      "ctx/app/main.py",
      "ctx/data/",
      "ctx/data/keep.md",
    ]);
  });

  it("with BuildKit, a Dockerfile in an excluded folder with its own ignore file next to it", async () => {
    const files = {
      "docker/Dockerfile.dev": "FROM scratch\nCOPY . /ctx\n",
      "docker/Dockerfile.dev.dockerignore": "docker\n*.env\n",
      "docker/secret.env": "T=1",
      ".dockerignore": "app.py\n",
      "app.py": "",
      "other.env": "",
      "lib/x.py": "",
    };
    const [theirs, mine] = [makeContext(files), makeContext(files)];
    await cliBuildKit(theirs, tag("bk-cli-sub"), ["-f", join(theirs, "docker/Dockerfile.dev")]);
    await ourBuildKit(mine, tag("bk-sub"), "docker/Dockerfile.dev");
    const tree = await expectSameTree(tag("bk-cli-sub"), tag("bk-sub"));
    expect(tree.map((e) => e.name).sort()).toEqual([
      "ctx/",
      "ctx/.dockerignore",
      "ctx/app.py",
      "ctx/lib/",
      "ctx/lib/x.py",
    ]);
  });

  it("reuses the layer the CLI built from the same context (a tree with directories)", async () => {
    const root = richContext();
    await recorder.cliBuild(root);
    const sentByCli = recorder.last().body;
    if (tarEntries(sentByCli).some((e) => e.mode > 0o7777)) {
      // A pre-25 CLI (see asCurrentCli): it builds from its own tar, in the current CLI's modes.
      const out = await runDocker(
        ["build", "-t", tag("seed"), "-"],
        { ...process.env, DOCKER_BUILDKIT: "0" },
        undefined,
        withoutLegacyTypeBits(sentByCli),
      );
      expect(out.code, out.output).toBe(0);
    } else await cliBuild(root, tag("seed"));
    const result = await ourBuild(root, tag("reuse"), "classic");
    // FROM scratch, COPY busybox, COPY . /ctx: both COPY steps come from the CLI's cache.
    expect(result.cachedSteps).toBeGreaterThanOrEqual(2);
    const layers = async (t: string) => (await docker.getImage(t).inspect()).RootFS.Layers;
    expect(await layers(tag("reuse"))).toEqual(await layers(tag("seed")));
  });
});

/** Open unix-socket handles of this process: the engine connections, a BuildKit session's among them. */
function enginePipes(): number {
  return process.getActiveResourcesInfo().filter((r) => r === "PipeWrap").length;
}

/** The entries of an image's top layer, read from `docker save`. */
async function topLayer(docker: Docker, ref: string): Promise<TarEntryRead[]> {
  const chunks: Buffer[] = [];
  for await (const chunk of (await docker.getImage(ref).get()) as AsyncIterable<Buffer>) chunks.push(chunk);
  const saved = Buffer.concat(chunks);
  const manifest = JSON.parse(tarFile(saved, "manifest.json").toString()) as { Layers: string[] }[];
  const layer = manifest[0]?.Layers.at(-1);
  if (!layer) throw new Error(`no layers in ${ref}`);
  return tarEntries(tarFile(saved, layer));
}

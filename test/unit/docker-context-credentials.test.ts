import { linkSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { checkSessionContext, createContextStream } from "../../src/docker/context.js";
import { isGitConfig, withoutExtraHeaders } from "../../src/docker/context-credentials.js";
import { syncWalk } from "../../src/docker/context-sync.js";
import { tarEntries, tarFile } from "../support/context-capture.js";
import { fileTree } from "../support/docker.js";

const roots: string[] = [];
afterAll(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

const TOKEN = "ghs_16C7e42F292c6912E7710c838347Ae178B4a";
const BASIC = Buffer.from(`x-access-token:${TOKEN}`).toString("base64");
/** .git/config as actions/checkout v4 leaves it with persist-credentials: true. */
const CHECKOUT_CONFIG = [
  "[core]",
  "\trepositoryformatversion = 0",
  "\tfilemode = true",
  "\tbare = false",
  '[remote "origin"]',
  "\turl = https://github.com/octo-org/ml-app",
  "\tfetch = +refs/heads/*:refs/remotes/origin/*",
  "[gc]",
  "\tauto = 0",
  '[http "https://github.com/"]',
  `\textraheader = AUTHORIZATION: basic ${BASIC}`,
  "",
].join("\n");
const WITHOUT = CHECKOUT_CONFIG.replace(/\textraheader.*\n/, "");

function tree(files: Record<string, string>): string {
  const root = fileTree(files, "ml-preview-cred-");
  roots.push(root);
  return root;
}

describe("withoutExtraHeaders", () => {
  it("drops actions/checkout's header line, keeps every other byte", () => {
    expect(withoutExtraHeaders(CHECKOUT_CONFIG)).toBe(WITHOUT);
  });

  it("any case, any section, CRLF, no spaces, a key after the header, continued values", () => {
    const text = [
      "[HTTP]\r\n",
      "\tExtraHeader=AUTHORIZATION: basic abc\r\n",
      '[http "https://ghe.example/"] extraHeader = X-Token: a\\\n',
      "b-continued\n",
      "\textraheader\n",
      "\textraheaders = kept\n",
      '[remote "origin"]\n',
      "\turl = https://github.com/o/r\n",
    ].join("");
    expect(withoutExtraHeaders(text)).toBe(
      [
        "[HTTP]\r\n",
        '[http "https://ghe.example/"]\n',
        "\textraheaders = kept\n",
        '[remote "origin"]\n',
        "\turl = https://github.com/o/r\n",
      ].join(""),
    );
  });

  it("names git config files at any depth, nothing else", () => {
    for (const yes of [".git/config", "sub/.git/config", ".git/modules/lib/config", ".git/config.worktree"])
      expect(isGitConfig(yes), yes).toBe(true);
    for (const no of ["config", ".git/configs", "git/config", ".github/config", ".git/refs/heads/x"])
      expect(isGitConfig(no), no).toBe(false);
  });
});

describe("the context without the checkout's credential", () => {
  const files = {
    Dockerfile: "FROM scratch\nCOPY . /ctx\n",
    ".git/config": CHECKOUT_CONFIG,
    ".git/HEAD": "ref: refs/heads/main\n",
    ".git/modules/lib/config": CHECKOUT_CONFIG,
    "vendored/.git/config": WITHOUT,
    "app.py": "print(1)\n",
  };

  it("the classic builder's tar: the config files without the header, their sizes to match", async () => {
    const root = tree(files);
    const ctx = await createContextStream(root, "Dockerfile");
    const chunks: Buffer[] = [];
    for await (const chunk of ctx.stream as AsyncIterable<Buffer>) chunks.push(chunk);
    const tar = Buffer.concat(chunks);
    expect(tar.includes(TOKEN)).toBe(false);
    expect(tar.includes(BASIC)).toBe(false);
    expect(tarFile(tar, ".git/config").toString()).toBe(WITHOUT);
    expect(tarFile(tar, ".git/modules/lib/config").toString()).toBe(WITHOUT);
    expect(tarFile(tar, "vendored/.git/config").toString()).toBe(WITHOUT);
    expect(tarEntries(tar).find((e) => e.name === ".git/config")?.size).toBe(WITHOUT.length);
    expect(ctx.credentialsLeftOut).toEqual([".git/config", ".git/modules/lib/config"]);
  });

  it("a config hardlinked to an earlier file is sent as a file of its own, never as a link to the original", async () => {
    const root = tree({ Dockerfile: "FROM scratch\n", "a-copy": "" });
    rmSync(join(root, "a-copy"));
    const withGit = tree({ ".git/config": CHECKOUT_CONFIG });
    linkSync(join(withGit, ".git/config"), join(root, "a-copy"));
    mkdirSync(join(root, ".git"));
    linkSync(join(withGit, ".git/config"), join(root, ".git/config"));
    const ctx = await createContextStream(root, "Dockerfile");
    const chunks: Buffer[] = [];
    for await (const chunk of ctx.stream as AsyncIterable<Buffer>) chunks.push(chunk);
    const tar = Buffer.concat(chunks);
    const config = tarEntries(tar).find((e) => e.name === ".git/config");
    expect(config).toMatchObject({ type: "0", size: WITHOUT.length });
  });

  it("BuildKit's session: the stats carry the shorter size and the content to send", async () => {
    const root = tree(files);
    const stats = syncWalk(root, {}, true);
    const config = stats.find((s) => s.path === ".git/config");
    expect(config?.size).toBe(BigInt(WITHOUT.length));
    expect(config?.content?.toString()).toBe(WITHOUT);
    expect(stats.find((s) => s.path === "app.py")?.content).toBeUndefined();
    expect((await checkSessionContext(root, "Dockerfile")).credentials).toEqual([
      ".git/config",
      ".git/modules/lib/config",
    ]);
  });

  it("what the ignore file leaves out is not reported", async () => {
    const root = tree({ ...files, ".dockerignore": ".git\n" });
    expect((await checkSessionContext(root, "Dockerfile")).credentials).toEqual([]);
    const ctx = await createContextStream(root, "Dockerfile");
    for await (const _ of ctx.stream as AsyncIterable<Buffer>);
    expect(ctx.credentialsLeftOut).toEqual([]);
  });
});

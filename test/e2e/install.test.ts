import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ACTION_DIR } from "../support/runner.js";

const readme = readFileSync(join(ACTION_DIR, "README.md"), "utf8");
const pkg = JSON.parse(readFileSync(join(ACTION_DIR, "package.json"), "utf8")) as { version: string };

/** The README's install command, as a user copies it (the first `npm install -g` line under "### Install"). */
function readmeInstall(): string[] {
  const section = readme.split(/^### Install\s*$/m)[1]!.split(/^### /m)[0]!;
  const line = /```sh\n([\s\S]*?)```/
    .exec(section)![1]!
    .split("\n")
    .find((l) => l.startsWith("npm install -g"))!;
  return line.split(/\s+/).filter(Boolean);
}

describe("installing the CLI as the README says, from the tarball a release ships", () => {
  it("npm install -g <release tarball> gives a working ml-preview", () => {
    const dir = mkdtempSync(join(tmpdir(), "install-"));
    // What release.yml attaches to the release: `npm pack` of this checkout.
    const tarball = execFileSync("npm", ["pack", "--silent", "--pack-destination", dir], {
      cwd: ACTION_DIR,
      encoding: "utf8",
    }).trim();
    const [npm, ...args] = readmeInstall();
    const url = args.find((a) => a.startsWith("https://"))!;
    expect(url.endsWith(`/v${pkg.version}/${tarball}`)).toBe(true);
    // The release URL becomes the same file on disk (GitHub is unreachable from tests); the prefix keeps
    // the global install inside the test's folder.
    const prefix = join(dir, "prefix");
    execFileSync(
      npm!,
      [
        ...args.map((a) => (a === url ? join(dir, tarball) : a)),
        "--prefix",
        prefix,
        "--prefer-offline",
        "--no-audit",
        "--no-fund",
      ],
      { stdio: "pipe" },
    );
    const bin = join(prefix, "bin", "ml-preview");
    expect(execFileSync(bin, ["--version"], { encoding: "utf8" })).toBe(`${pkg.version}\n`);
    expect(execFileSync(bin, ["share", "--help"], { encoding: "utf8" })).toContain(
      "ml-preview share --port N",
    );
  }, 240_000);
});

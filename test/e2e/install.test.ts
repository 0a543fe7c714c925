import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireDocker } from "../support/docker.js";
import { type EchoApp, startEchoApp } from "../support/ngrok-edge/echo-app.js";
import { type NgrokEdge, startNgrokEdge } from "../support/ngrok-edge/index.js";
import { ACTION_DIR } from "../support/runner.js";

const readme = readFileSync(join(ACTION_DIR, "README.md"), "utf8");
const pkg = JSON.parse(readFileSync(join(ACTION_DIR, "package.json"), "utf8")) as {
  version: string;
  optionalDependencies?: Record<string, string>;
};
const MB = 1024 * 1024;

/** The README's install command, as a user copies it (the first `npm install -g` line under "### Install"). */
function readmeInstall(): string[] {
  const section = readme.split(/^### Install\s*$/m)[1]!.split(/^### /m)[0]!;
  const line = /```sh\n([\s\S]*?)```/
    .exec(section)![1]!
    .split("\n")
    .find((l) => l.startsWith("npm install -g"))!;
  return line.split(/\s+/).filter(Boolean);
}

/** Bytes of every file under `dir`. */
function diskUsage(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true }))
    if (entry.isFile()) total += statSync(join(entry.parentPath, entry.name)).size;
  return total;
}

// What release.yml attaches to the release (`npm pack` of this checkout), installed as the README says.
let dir: string;
let tarball: string;
let prefix: string;
let url: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "install-"));
  tarball = execFileSync("npm", ["pack", "--silent", "--pack-destination", dir], {
    cwd: ACTION_DIR,
    encoding: "utf8",
  }).trim();
  const [npm, ...args] = readmeInstall();
  url = args.find((a) => a.startsWith("https://"))!;
  // The release URL becomes the same file on disk (GitHub is unreachable from tests); the prefix keeps
  // the global install inside the test's folder. --offline: a package with no dependencies needs no registry.
  prefix = join(dir, "prefix");
  execFileSync(
    npm!,
    [
      ...args.map((a) => (a === url ? join(dir, tarball) : a)),
      "--prefix",
      prefix,
      "--offline",
      "--cache",
      join(dir, "npm-cache"),
      "--no-audit",
      "--no-fund",
    ],
    { stdio: "pipe" },
  );
}, 240_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("installing the CLI as the README says, from the tarball a release ships", () => {
  it("npm install -g <release tarball> gives a working ml-preview", () => {
    expect(url.endsWith(`/v${pkg.version}/${tarball}`)).toBe(true);
    const bin = join(prefix, "bin", "ml-preview");
    expect(execFileSync(bin, ["--version"], { encoding: "utf8" })).toBe(`${pkg.version}\n`);
    expect(execFileSync(bin, ["share", "--help"], { encoding: "utf8" })).toContain(
      "ml-preview share --port N",
    );
    expect(execFileSync(bin, ["up", "--help"], { encoding: "utf8" })).toContain("ml-preview up [CONTEXT]");
  });

  it("installs the package alone: no dependencies (dist/ is one bundle), under 30 MB in all", () => {
    const installed = join(prefix, "lib", "node_modules");
    // On Linux x64/arm64 with glibc the ngrok addon is in dist/: npm adds nothing beside ml-preview.
    expect(readdirSync(installed)).toEqual(["ml-preview"]);
    const nested = join(installed, "ml-preview", "node_modules");
    expect(existsSync(nested) ? readdirSync(nested) : []).toEqual([]);
    expect(diskUsage(installed)).toBeLessThan(30 * MB);
  });

  it("the bundle requires no npm package but the ngrok addon for platforms dist/ does not carry", () => {
    const bundle = readFileSync(join(prefix, "lib/node_modules/ml-preview/dist/index.js"), "utf8");
    const builtins = new Set(builtinModules);
    const required = new Set(
      [...bundle.matchAll(/\brequire\("([^"]+)"\)/g)]
        .map((m) => m[1]!)
        .filter((name) => !name.startsWith(".") && !name.startsWith("node:") && !builtins.has(name)),
    );
    // Required inside try/catch by code that does without them: ssh2's optional CPU probe, debug's colours.
    const optional = ["cpu-features", "supports-color"];
    const ngrok = [...required].filter((name) => !optional.includes(name));
    expect(ngrok.length).toBeGreaterThan(0);
    for (const name of ngrok) expect(name).toMatch(/^@ngrok\/ngrok-/);
    // Every platform package the SDK itself offers is either carried in dist/ or an optional dependency of
    // ours, at the version dist/ was built with (darwin-universal: darwin-x64 and darwin-arm64 stand in).
    const sdk = JSON.parse(
      readFileSync(join(ACTION_DIR, "node_modules/@ngrok/ngrok/package.json"), "utf8"),
    ) as { version: string; optionalDependencies: Record<string, string> };
    const carried = readdirSync(join(ACTION_DIR, "dist")).filter((f) => /^ngrok\..+\.node$/.test(f));
    expect(carried.length).toBeGreaterThan(0);
    for (const name of Object.keys(sdk.optionalDependencies)) {
      const platform = name.replace("@ngrok/ngrok-", "");
      if (carried.includes(`ngrok.${platform}.node`) || platform === "darwin-universal") continue;
      expect(pkg.optionalDependencies?.[name], name).toBe(sdk.version);
    }
  });
});

describe("the installed package, with no node_modules", () => {
  let edge: NgrokEdge;
  let app: EchoApp;
  beforeAll(async () => {
    edge = await startNgrokEdge();
    app = await startEchoApp();
  });
  afterAll(async () => {
    await Promise.all([edge?.close(), app?.close()]);
  });

  it("ml-preview share opens a tunnel: the native ngrok addon loads from the package's dist/", async () => {
    const ca = join(dir, "ca.pem");
    writeFileSync(ca, edge.caCert);
    const child: ChildProcess = spawn(
      join(prefix, "bin", "ml-preview"),
      [
        "share",
        "--port",
        String(app.port),
        "--duration",
        "2s",
        "--json",
        "--ngrok-server-addr",
        edge.serverAddr,
        "--ngrok-ca-cert",
        ca,
      ],
      {
        cwd: dir,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          ML_PREVIEW_STATE_DIR: join(dir, "state"),
          NGROK_AUTHTOKEN: "test-authtoken",
        },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let out = "";
    let err = "";
    child.stdout!.on("data", (d) => (out += d));
    child.stderr!.on("data", (d) => (err += d));
    const code = await new Promise((r) => child.on("close", r));
    expect(code, err).toBe(0);
    const events = out
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => (JSON.parse(l) as { event: string }).event);
    expect(events).toEqual(["ready", "live", "expired"]);
    expect(edge.binds).toHaveLength(1);
  });
});

describe("the Quick start's first command", () => {
  it("scripts/preview-example.sh runs the CLI from dist/ without npm (no npm ci, no npm install, no npx)", async () => {
    await requireDocker();
    // A clone that never ran npm (no node_modules) whose npm and npx fail and leave a note if called.
    const clone = join(dir, "clone");
    mkdirSync(clone);
    cpSync(join(ACTION_DIR, "scripts"), join(clone, "scripts"), { recursive: true });
    for (const f of ["package.json", "package-lock.json"]) copyFileSync(join(ACTION_DIR, f), join(clone, f));
    for (const d of ["dist", "examples"]) symlinkSync(join(ACTION_DIR, d), join(clone, d));
    const bin = join(dir, "no-npm");
    mkdirSync(bin);
    const called = join(dir, "npm-called");
    for (const tool of ["npm", "npx"]) {
      writeFileSync(join(bin, tool), `#!/bin/sh\necho "${tool} $*" >> "${called}"\nexit 97\n`);
      chmodSync(join(bin, tool), 0o755);
    }
    const app = join(dir, "example-app");
    mkdirSync(app);
    writeFileSync(join(app, "Dockerfile"), "FROM scratch\n");
    // An unknown flag for `up`: the script gets through set-up to the CLI, which stops at once (exit 2).
    const run = spawnSync("bash", [join(clone, "scripts/preview-example.sh"), "--no-such-flag"], {
      encoding: "utf8",
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, ML_PREVIEW_EXAMPLE: app },
      timeout: 120_000,
    });
    expect(existsSync(called) ? readFileSync(called, "utf8") : "").toBe("");
    expect(run.stderr).toContain("ml-preview: unknown flag: --no-such-flag");
    expect(run.status).toBe(2);
  });
});

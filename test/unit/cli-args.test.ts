import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { asFlag, cliWords, closest, parseCliArgs, usage } from "../../src/cli/args.js";
import { authtokenIn, ngrokConfigPaths, tokenLookup } from "../../src/cli/ngrok-config.js";
import { humanReporter, terminalOf, whenLocal } from "../../src/cli/reporters.js";
import { CLI_MAX_DURATION, parseConfig } from "../../src/config/parse.js";

const usageError = (argv: string[]) => {
  try {
    parseCliArgs(argv);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error("no error");
};

describe("CLI help as docker and gh give it", () => {
  it("per command: description, examples, only that command's flags, each with its default", () => {
    const share = usage("share");
    expect(share).toContain("Examples:\n  ml-preview share --port 8050");
    expect(share).toMatch(/--duration DURATION\s+how long the preview stays live .*\(default: 30m\)/);
    expect(share).not.toContain("--dockerfile");
    expect(usage("up")).toMatch(
      /--dockerfile PATH\s+Dockerfile, relative to CONTEXT \(default: Dockerfile\)/,
    );
    expect(parseCliArgs(["up", "--help"])).toEqual({ command: "help", topic: "up" });
    expect(parseCliArgs(["help", "down"])).toEqual({ command: "help", topic: "down" });
  });

  it("--version and -v", () => {
    expect(parseCliArgs(["--version"])).toEqual({ command: "version" });
    expect(parseCliArgs(["-v"])).toEqual({ command: "version" });
  });

  it("did-you-mean for flags and commands; a flag of another command says whose it is", () => {
    expect(usageError(["share", "--prot", "8050"])).toBe(
      "unknown flag: --prot. Did you mean --port? See `ml-preview share --help`.",
    );
    expect(usageError(["shar"])).toContain("Did you mean `ml-preview share`?");
    expect(usageError(["share", "--port", "1", "--dockerfile", "x"])).toContain(
      "--dockerfile is not a flag of `ml-preview share` (it belongs to `up`)",
    );
    expect(usageError(["up", "--port"])).toContain("--port needs a value, e.g. --port N");
    expect(closest("duraton", ["duration", "detach"])).toBe("duration");
  });
});

describe("CLI errors in CLI words", () => {
  it("input names become flags, the runner becomes this machine", () => {
    expect(cliWords("Set the `port` input to 9000 (CLI: `--port 9000`), or make the app listen")).toBe(
      "Set `--port 9000`, or make the app listen",
    );
    expect(cliWords("raise `ready-timeout`; set `health-path` or `port`")).toBe(
      "raise `--ready-timeout`; set `--health-path` or `--port`",
    );
    expect(cliWords("or set `tunnel: none` for a local URL; check the runner's network")).toBe(
      "or set `--tunnel none` for a local URL; check this machine's network",
    );
    expect(asFlag({ input: "build-args", message: "build-args line 2 has no =" })).toBe(
      "--build-arg line 2 has no =",
    );
  });
});

describe("the authtoken from ngrok's own agent config", () => {
  it("reads v3 agent.authtoken and v2's top-level authtoken", () => {
    expect(authtokenIn("version: 3\nagent:\n  authtoken: abc123\n")).toBe("abc123");
    expect(authtokenIn("version: 2\nauthtoken: old456\n")).toBe("old456");
    expect(authtokenIn("version: 3\nagent: {}\n")).toBeUndefined();
  });

  it("looks where the agent keeps it, after $NGROK_AUTHTOKEN", () => {
    expect(ngrokConfigPaths({ HOME: "/h" }, "linux")).toEqual([
      "/h/.config/ngrok/ngrok.yml",
      "/h/.ngrok2/ngrok.yml",
    ]);
    expect(ngrokConfigPaths({ HOME: "/h" }, "darwin")[0]).toBe(
      "/h/Library/Application Support/ngrok/ngrok.yml",
    );
    const home = mkdtempSync(join(tmpdir(), "ngrok-home-"));
    mkdirSync(join(home, ".config", "ngrok"), { recursive: true });
    writeFileSync(
      join(home, ".config", "ngrok", "ngrok.yml"),
      "version: 3\nagent:\n  authtoken: from-file\n",
    );
    expect(tokenLookup({ HOME: home })()).toEqual({
      token: "from-file",
      from: join(home, ".config/ngrok/ngrok.yml"),
    });
    expect(tokenLookup({ HOME: home, NGROK_AUTHTOKEN: "from-env" })()?.token).toBe("from-env");
    const args = parseCliArgs(["share", "--port", "8050"], tokenLookup({ HOME: home }));
    expect(args).toMatchObject({ inputs: { "ngrok-authtoken": "from-file", tunnel: "ngrok" } });
  });
});

describe("the terminal", () => {
  it("expiry in local time and relative", () => {
    const now = new Date(2026, 0, 5, 14, 0, 0);
    expect(whenLocal(new Date(2026, 0, 5, 14, 29, 10), now)).toMatch(/^\d\d:\d\d\s?(AM|PM)? \(in 29 min\)$/i);
    expect(whenLocal(new Date(2026, 0, 5, 16, 30), now)).toMatch(/\(in 2 h 30 min\)$/);
  });

  it("no ANSI in the QR code with NO_COLOR or when stdout is not a terminal", async () => {
    expect(terminalOf({ isTTY: true }, { NO_COLOR: "1" }).ansi).toBe(false);
    expect(terminalOf({ isTTY: false }, {}).ansi).toBe(false);
    expect(terminalOf({ isTTY: true }, {}).ansi).toBe(true);
    const render = async (ansi: boolean) => {
      let out = "";
      const live = { event: "live" as const, details: { url: "https://x.ngrok.app", expiresAt: new Date() } };
      await humanReporter(
        (t) => (out += t),
        () => {},
        { ansi },
      ).report(live);
      return out;
    };
    expect(await render(false)).not.toContain("\u001b[");
    expect(await render(true)).toContain("\u001b[");
  });
});

describe("duration outside GitHub Actions", () => {
  it("may exceed the job-bound 5h50m, up to 24h", () => {
    const ws = mkdtempSync(join(tmpdir(), "ws-"));
    const inputs = { image: "app:1", tunnel: "none", duration: "20h", comment: "false" };
    expect(() => parseConfig(inputs, { workspace: ws })).toThrow(/5h50m/);
    expect(parseConfig(inputs, { workspace: ws, maxDuration: CLI_MAX_DURATION }).durationMs).toBe(
      20 * 3_600_000,
    );
    expect(() =>
      parseConfig({ ...inputs, duration: "25h" }, { workspace: ws, maxDuration: CLI_MAX_DURATION }),
    ).toThrow(/24h/);
  });
});

describe("--build-secret, as docker's --secret", () => {
  const dir = mkdtempSync(join(tmpdir(), "ml-preview-secret-"));
  writeFileSync(join(dir, "npmrc"), '//registry.npmjs.org/:_authToken=abc"def\nalways-auth=true\n');
  const sources = {
    env: { hf_token: "from-env-by-id", HF_TOKEN: "from-env-named" },
    readFile: (path: string) => readFileSync(join(dir, path)),
  };
  const secretsOf = (...specs: string[]) => {
    const args = parseCliArgs(
      ["up", ...specs.flatMap((s) => ["--build-secret", s])],
      () => undefined,
      sources,
    );
    if (args.command !== "up") throw new Error("not up");
    return parseConfig(args.inputs, { workspace: dir }).source;
  };

  it("id=ID takes $ID, else the file ID; env= and src= (source=, type=) say where; any value fits", () => {
    writeFileSync(join(dir, "Dockerfile"), "FROM scratch\n");
    expect(
      secretsOf(
        "id=hf_token",
        "id=npmrc",
        "id=b,env=HF_TOKEN",
        "id=c,src=npmrc",
        "id=d,type=env,src=HF_TOKEN",
      ),
    ).toMatchObject({
      buildSecrets: {
        hf_token: "from-env-by-id",
        npmrc: '//registry.npmjs.org/:_authToken=abc"def\nalways-auth=true\n',
        b: "from-env-named",
        c: '//registry.npmjs.org/:_authToken=abc"def\nalways-auth=true\n',
        d: "from-env-named",
      },
    });
  });

  it.each([
    ["id=x,env=UNSET", "the environment variable UNSET is not set"],
    ["id=missing", "cannot read the file missing (ENOENT)"],
    ["env=HF_TOKEN", "id=ID is missing"],
    ["id=a b", 'the id "a b" is not letters'],
    ["id=a,mode=0400", '"mode" is not a key it takes'],
    ["id=a,type=ssh", 'type "ssh" is neither env nor file'],
    ["hf_token", '"hf_token" is not key=value'],
  ])("%s: one error naming --build-secret", (spec, phrase) => {
    let message = "";
    try {
      parseCliArgs(["up", "--build-secret", spec], () => undefined, sources);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain(`--build-secret ${spec}: ${phrase}`);
    expect(message).toContain("Use --build-secret id=ID[,env=VAR|,src=PATH]");
    expect(message).not.toContain("from-env");
  });

  it("is in up's help", () => {
    expect(usage("up")).toMatch(
      /--build-secret id=ID\[,env=VAR\|,src=PATH\]\s+secret for RUN --mount=type=secret,id=ID/,
    );
  });
});

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { buildSecretEntry, SECRET_ID } from "../config/check/secrets.js";
import { INPUT_NAMES, type InputName, type Inputs } from "../config/types.js";

export type Command = "up" | "share" | "ls" | "down";
type Group = "Build" | "Run" | "Tunnel and protection" | "Output" | "Select";

/** One flag: the input it fills (if any), the commands that take it, and its line in `--help`. */
interface FlagSpec {
  readonly name: string;
  readonly input?: InputName;
  readonly repeat?: boolean;
  readonly boolean?: boolean;
  /** The value's placeholder in help, e.g. PATH. */
  readonly value?: string;
  readonly default?: string;
  readonly help: string;
  readonly group: Group;
  readonly commands: readonly Command[];
}

const UP: Command[] = ["up"];
const BOTH: Command[] = ["up", "share"];

/** Every flag, in help order. Add new ones here (the parser, help and did-you-mean all read this table). */
const FLAGS: readonly FlagSpec[] = [
  {
    name: "dockerfile",
    input: "dockerfile",
    value: "PATH",
    default: "Dockerfile",
    help: "Dockerfile, relative to CONTEXT",
    group: "Build",
    commands: UP,
  },
  {
    name: "build-arg",
    input: "build-args",
    repeat: true,
    value: "KEY=VALUE",
    help: "build argument (repeat)",
    group: "Build",
    commands: UP,
  },
  {
    name: "build-secret",
    input: "build-secrets",
    repeat: true,
    value: "id=ID[,env=VAR|,src=PATH]",
    help: "secret for RUN --mount=type=secret,id=ID, as docker's --secret (default: $ID, else the file ID); never in the image (repeat)",
    group: "Build",
    commands: UP,
  },
  {
    name: "target",
    input: "target",
    value: "STAGE",
    help: "build this stage of a multi-stage Dockerfile",
    group: "Build",
    commands: UP,
  },
  {
    name: "cache",
    input: "cache",
    value: "MODE",
    default: "none",
    help: "build cache: none, gha or registry:REF",
    group: "Build",
    commands: UP,
  },
  {
    name: "image",
    input: "image",
    value: "REF",
    help: "run this image instead of building (pulled when missing)",
    group: "Build",
    commands: UP,
  },
  {
    name: "registry-username",
    input: "registry-username",
    value: "USER",
    help: "user for pulling --image from a private registry",
    group: "Build",
    commands: UP,
  },
  {
    name: "registry-password",
    input: "registry-password",
    value: "TOKEN",
    help: "password or token for --registry-username",
    group: "Build",
    commands: UP,
  },
  {
    name: "port",
    input: "port",
    value: "N",
    default: "auto",
    help: "port the app listens on (up: in the container; share: on this machine)",
    group: "Run",
    commands: BOTH,
  },
  {
    name: "env",
    input: "env",
    repeat: true,
    value: "KEY=VALUE",
    help: "container environment (repeat); values are masked",
    group: "Run",
    commands: UP,
  },
  {
    name: "command",
    input: "command",
    value: "CMD",
    help: "override the image's command",
    group: "Run",
    commands: UP,
  },
  {
    name: "health-path",
    input: "health-path",
    value: "PATH",
    default: "auto",
    help: "HTTP path that answers 2xx/3xx once the app is ready",
    group: "Run",
    commands: UP,
  },
  {
    name: "ready-timeout",
    input: "ready-timeout",
    value: "DURATION",
    default: "5m",
    help: "give up waiting for the app after this",
    group: "Run",
    commands: BOTH,
  },
  {
    name: "cache-dir",
    input: "cache-dirs",
    repeat: true,
    value: "PATH",
    help: "container path kept in a named volume between runs, e.g. a model cache (repeat)",
    group: "Run",
    commands: UP,
  },
  { name: "gpus", input: "gpus", value: "all|N", help: "GPUs for the container", group: "Run", commands: UP },
  {
    name: "memory",
    input: "memory",
    value: "SIZE",
    help: "memory limit, Docker style (4g)",
    group: "Run",
    commands: UP,
  },
  { name: "cpus", input: "cpus", value: "N", help: "CPU limit (1.5)", group: "Run", commands: UP },
  {
    name: "name",
    input: "name",
    value: "NAME",
    default: "app",
    help: "tells previews on this machine apart (ls, down)",
    group: "Run",
    commands: BOTH,
  },
  {
    name: "duration",
    input: "duration",
    value: "DURATION",
    default: "30m",
    help: "how long the preview stays live (90s, 2h, 1h30m; at most 24h)",
    group: "Tunnel and protection",
    commands: BOTH,
  },
  {
    name: "tunnel",
    input: "tunnel",
    value: "ngrok|none",
    default: "ngrok with a token, else none",
    help: "none: a local URL only",
    group: "Tunnel and protection",
    commands: BOTH,
  },
  {
    name: "ngrok-authtoken",
    input: "ngrok-authtoken",
    value: "TOKEN",
    default: "$NGROK_AUTHTOKEN, then ngrok's config file",
    help: "your ngrok authtoken",
    group: "Tunnel and protection",
    commands: BOTH,
  },
  {
    name: "ngrok-domain",
    input: "ngrok-domain",
    value: "DOMAIN",
    help: "reserved or free static ngrok domain",
    group: "Tunnel and protection",
    commands: BOTH,
  },
  {
    name: "basic-auth",
    input: "basic-auth",
    value: "USER:PASSWORD",
    help: "ask visitors for this user and password (8-128 chars)",
    group: "Tunnel and protection",
    commands: BOTH,
  },
  {
    name: "oauth-provider",
    input: "oauth-provider",
    value: "PROVIDER",
    help: "sign visitors in with google, github, microsoft, gitlab, …",
    group: "Tunnel and protection",
    commands: BOTH,
  },
  {
    name: "oauth-client-id",
    input: "oauth-client-id",
    value: "ID",
    help: "client id of your own OAuth app (needed for amazon, facebook)",
    group: "Tunnel and protection",
    commands: BOTH,
  },
  {
    name: "oauth-client-secret",
    input: "oauth-client-secret",
    value: "SECRET",
    help: "client secret of that OAuth app; never printed",
    group: "Tunnel and protection",
    commands: BOTH,
  },
  {
    name: "oauth-allow-email",
    input: "oauth-allow-emails",
    repeat: true,
    value: "EMAIL",
    help: "who may pass --oauth-provider (repeat)",
    group: "Tunnel and protection",
    commands: BOTH,
  },
  {
    name: "oauth-allow-domain",
    input: "oauth-allow-domains",
    repeat: true,
    value: "DOMAIN",
    help: "email domains that may pass --oauth-provider (repeat)",
    group: "Tunnel and protection",
    commands: BOTH,
  },
  {
    name: "allow-cidr",
    input: "allow-cidrs",
    repeat: true,
    value: "CIDR",
    help: "IP allow-list (repeat)",
    group: "Tunnel and protection",
    commands: BOTH,
  },
  {
    name: "traffic-policy",
    input: "traffic-policy",
    value: "YAML|JSON",
    help: "raw ngrok traffic policy for anything else",
    group: "Tunnel and protection",
    commands: BOTH,
  },
  {
    name: "ngrok-server-addr",
    input: "ngrok-server-addr",
    value: "HOST:PORT",
    help: "dedicated ngrok agent ingress",
    group: "Tunnel and protection",
    commands: BOTH,
  },
  {
    name: "ngrok-ca-cert",
    input: "ngrok-ca-cert",
    value: "PATH",
    help: "CA certificate (PEM) of --ngrok-server-addr",
    group: "Tunnel and protection",
    commands: BOTH,
  },
  {
    name: "detach",
    boolean: true,
    help: "return once live, printing the URL; a background process holds it (see ls, down)",
    group: "Output",
    commands: BOTH,
  },
  {
    name: "json",
    boolean: true,
    help: "one JSON object per line on stdout, nothing else",
    group: "Output",
    commands: ["up", "share", "ls"],
  },
  {
    name: "all",
    boolean: true,
    help: "end every preview of this machine",
    group: "Select",
    commands: ["down"],
  },
  {
    name: "volumes",
    boolean: true,
    help: "also remove the --cache-dir volumes of these previews (their apps start cold next time)",
    group: "Select",
    commands: ["down"],
  },
];

const ABOUT: Record<Command, { usage: string; what: string; examples: string[] }> = {
  up: {
    usage: "ml-preview up [CONTEXT] [flags]",
    what: "Build the app in CONTEXT (default: this folder), or run --image; wait until it answers; give it a public URL for --duration; then clean up.",
    examples: [
      "ml-preview up",
      'ml-preview up examples/dash-tips --duration 2h --basic-auth "ada:$PREVIEW_PASSWORD"',
      "ml-preview up --image ghcr.io/me/app:latest --port 7860 --detach --json",
    ],
  },
  share: {
    usage: "ml-preview share --port N [flags]",
    what: "Give an app already running on this machine a public, time-limited URL (like `ngrok http N`).",
    examples: ["ml-preview share --port 8050", "ml-preview share --port 7860 --duration 1h --detach"],
  },
  ls: {
    usage: "ml-preview ls [--json]",
    what: "List this machine's previews: name, URL, expiry, state. Previews whose process died are cleaned up.",
    examples: ["ml-preview ls"],
  },
  down: {
    usage: "ml-preview down [NAME | --all] [--volumes]",
    what: "End previews of this machine (default name: app) and clean up their containers.",
    examples: [
      "ml-preview down",
      "ml-preview down tips",
      "ml-preview down --all",
      "ml-preview down --volumes",
    ],
  },
};
const COMMANDS = Object.keys(ABOUT) as Command[];

export type CliArgs =
  | { readonly command: "help"; readonly topic?: Command }
  | { readonly command: "version" }
  | {
      readonly command: "up" | "share";
      readonly inputs: Inputs;
      readonly json: boolean;
      readonly detach: boolean;
      /** `share --port`: the port of the app already running on this machine. */
      readonly sharePort?: string;
      /** Where the authtoken came from, for the "no token" hint. */
      readonly tokenFrom?: string;
    }
  | { readonly command: "ls"; readonly json: boolean }
  | {
      readonly command: "down";
      readonly names: string[];
      readonly all: boolean;
      /** Also remove the app's --cache-dir volumes. */
      readonly volumes: boolean;
    };

export class UsageError extends Error {}

/** `share` without a token; the caller adds whether the app on --port answers (it checks, asynchronously). */
export class ShareNeedsTokenError extends UsageError {
  constructor(
    message: string,
    readonly port: string,
  ) {
    super(message);
  }
}

/** A token found outside the flags: the environment, then ngrok's own agent config file. */
export type TokenLookup = () => { token: string; from: string } | undefined;

/** Where `--build-secret` values come from: this process's environment, and files. */
export interface SecretSources {
  readonly env: NodeJS.ProcessEnv;
  readonly readFile: (path: string) => Buffer;
}

const LOCAL_SOURCES: SecretSources = { env: process.env, readFile: (path) => readFileSync(path) };

export function parseCliArgs(
  argv: readonly string[],
  tokenLookup: TokenLookup = () => undefined,
  secretSources: SecretSources = LOCAL_SOURCES,
): CliArgs {
  const first = argv[0];
  if (first === undefined || first === "help") {
    const topic = argv[1];
    if (topic !== undefined && !COMMANDS.includes(topic as Command)) throw unknownCommand(topic);
    return { command: "help", topic: topic as Command | undefined };
  }
  if (first === "--version" || first === "-v" || first === "version") return { command: "version" };
  if (first === "--help" || first === "-h") return { command: "help" };
  if (first.startsWith("-")) {
    throw new UsageError(
      `Give a command first, e.g. \`ml-preview up ${argv.join(" ")}\`. Run \`ml-preview --help\` for the commands.`,
    );
  }
  if (!COMMANDS.includes(first as Command)) throw unknownCommand(first);
  const command = first as Command;
  const rest = argv.slice(1);
  if (rest.includes("--help") || rest.includes("-h")) return { command: "help", topic: command };

  const { values, positionals } = parseFor(command, rest);
  const maxPositionals = command === "up" ? 1 : command === "down" ? Number.POSITIVE_INFINITY : 0;
  if (positionals.length > maxPositionals) {
    throw new UsageError(
      `Unexpected argument "${positionals[maxPositionals]}". Usage: ${ABOUT[command].usage} (see \`ml-preview ${command} --help\`).`,
    );
  }
  if (command === "ls") return { command, json: values.json === true };
  if (command === "down") {
    if (values.all && positionals.length > 0) throw new UsageError("Give NAME or --all, not both.");
    return {
      command,
      names: positionals.length ? positionals : ["app"],
      all: values.all === true,
      volumes: values.volumes === true,
    };
  }

  const inputs = flagInputs(values, secretSources);
  if (command === "up") inputs.context = positionals[0] ?? ".";
  let tokenFrom: string | undefined = inputs["ngrok-authtoken"] ? "--ngrok-authtoken" : undefined;
  if (!inputs["ngrok-authtoken"]) {
    const found = tokenLookup();
    inputs["ngrok-authtoken"] = found?.token ?? "";
    tokenFrom = found?.from;
  }
  // Without a token a laptop user still gets a local URL instead of an error (the Action insists on one).
  inputs.tunnel ??= inputs["ngrok-authtoken"] ? "ngrok" : "none";
  const sharePort = command === "share" ? (inputs.port ?? "") : undefined;
  if (command === "share" && !sharePort)
    throw new UsageError("share needs --port: the port your app listens on, e.g. --port 8050.");
  // `share` exists to give a running app a public URL: without a token there is nothing to share.
  if (command === "share" && inputs.tunnel === "none" && values.tunnel === undefined) {
    throw new ShareNeedsTokenError(
      "share needs an ngrok authtoken for a public URL: set NGROK_AUTHTOKEN, pass --ngrok-authtoken, or run `ngrok config add-authtoken TOKEN` once.",
      sharePort ?? "",
    );
  }
  return {
    command,
    inputs,
    json: values.json === true,
    detach: values.detach === true,
    sharePort,
    tokenFrom,
  };
}

/** The flags that mirror Action inputs, as those inputs (`--build-secret`s read now, from env or file). */
function flagInputs(values: ReturnType<typeof parseFor>["values"], secretSources: SecretSources): Inputs {
  const inputs: Inputs = { comment: "false" };
  for (const flag of FLAGS) {
    const v = values[flag.name];
    if (!flag.input || v === undefined) continue;
    inputs[flag.input] = Array.isArray(v) ? v.join("\n") : String(v);
  }
  const secretSpecs = values["build-secret"];
  if (Array.isArray(secretSpecs))
    inputs["build-secrets"] = secretSpecs
      .map((spec) => {
        const { id, value } = resolveBuildSecret(String(spec), secretSources);
        return buildSecretEntry(id, value);
      })
      .join("\n");
  return inputs;
}

/**
 * One `--build-secret` as docker's `--secret` reads it (buildx's parseSecret, BuildKit's secretsprovider):
 * `id=ID` with `env=VAR` or `src=PATH` (`source=`; `type=env|file` says which of the two a bare `src` is);
 * neither: the variable ID when it is set, else the file ID. Read now, so a missing one is a usage error
 * before anything starts (docker sends an empty value for an unset variable).
 */
export function resolveBuildSecret(spec: string, sources: SecretSources): { id: string; value: string } {
  const fail = (why: string) =>
    new UsageError(`--build-secret ${spec}: ${why}. Use --build-secret id=ID[,env=VAR|,src=PATH].`);
  let id = "";
  let env: string | undefined;
  let src: string | undefined;
  let type: string | undefined;
  for (const field of spec.split(",")) {
    const eq = field.indexOf("=");
    if (eq < 0) throw fail(`"${field}" is not key=value`);
    const key = field.slice(0, eq).toLowerCase();
    const value = field.slice(eq + 1);
    if (key === "id") id = value;
    else if (key === "env") env = value;
    else if (key === "src" || key === "source") src = value;
    else if (key === "type" && (value === "env" || value === "file")) type = value;
    else
      throw fail(
        key === "type"
          ? `type "${value}" is neither env nor file`
          : `"${key}" is not a key it takes (id, env, src)`,
      );
  }
  if (type === "env" && env === undefined) [env, src] = [src, undefined];
  if (!SECRET_ID.test(id))
    throw fail(id === "" ? "id=ID is missing" : `the id "${id}" is not letters, digits, "_", "." and "-"`);
  if (env === undefined && src === undefined) {
    if (sources.env[id] !== undefined) env = id;
    else src = id;
  }
  if (env !== undefined) {
    const value = sources.env[env];
    if (value === undefined) throw fail(`the environment variable ${env} is not set`);
    return { id, value };
  }
  try {
    return { id, value: sources.readFile(src as string).toString("utf8") };
  } catch (err) {
    throw fail(
      `cannot read the file ${src} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
}

function parseFor(command: Command, args: string[]) {
  const options: Record<string, { type: "string" | "boolean"; multiple?: boolean }> = {};
  for (const f of FLAGS.filter((f) => f.commands.includes(command)))
    options[f.name] = { type: f.boolean ? "boolean" : "string", ...(f.repeat ? { multiple: true } : {}) };
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw explainParseError(command, err as Error & { code?: string });
  }
}

/** Node's parser errors, in the words docker and gh use, with a did-you-mean. */
function explainParseError(command: Command, err: Error & { code?: string }): UsageError {
  const flag = /'(-{1,2}[^' ]+)/.exec(err.message)?.[1] ?? "";
  const name = flag.replace(/^-+/, "").split("=")[0]!;
  const help = `See \`ml-preview ${command} --help\`.`;
  if (err.code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    const spec = FLAGS.find((f) => f.name === name);
    if (spec?.boolean) return new UsageError(`--${name} takes no value. ${help}`);
    return new UsageError(
      `--${name} needs a value${spec?.value ? `, e.g. --${name} ${spec.value}` : ""}. ${help}`,
    );
  }
  const elsewhere = FLAGS.find((f) => f.name === name);
  if (elsewhere) {
    return new UsageError(
      `--${name} is not a flag of \`ml-preview ${command}\` (it belongs to ${elsewhere.commands.map((c) => `\`${c}\``).join(" and ")}). ${help}`,
    );
  }
  const own = FLAGS.filter((f) => f.commands.includes(command)).map((f) => f.name);
  const near = closest(name, own);
  return new UsageError(
    `unknown flag: ${flag || err.message}${near ? `. Did you mean --${near}?` : "."} ${help}`,
  );
}

function unknownCommand(word: string): UsageError {
  const near = closest(word, [...COMMANDS, "help"]);
  return new UsageError(
    `Unknown command "${word}"${near ? `. Did you mean \`ml-preview ${near}\`?` : "."} Commands: ${COMMANDS.join(", ")}. See \`ml-preview --help\`.`,
  );
}

/** The nearest word within a small edit distance (or one the typo starts), as git's "did you mean". */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: { c: string; d: number } | undefined;
  for (const c of candidates) {
    const d = c.startsWith(word) && word.length >= 3 ? 1 : distance(word, c);
    if (d <= Math.max(2, Math.floor(c.length / 4)) && (!best || d < best.d)) best = { c, d };
  }
  return best?.c;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const next = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = row[j]!;
      row[j] = next;
    }
  }
  return row[b.length]!;
}

export function usage(topic?: Command): string {
  if (!topic) {
    return [
      "ml-preview — live, time-limited previews of ML web apps",
      "",
      "Usage:",
      ...COMMANDS.map((c) => `  ${ABOUT[c].usage.padEnd(36)} ${ABOUT[c].what.split(/[.;]/)[0]}`),
      "",
      "Flags:",
      "  -h, --help      help for ml-preview or a command (`ml-preview up --help`)",
      "  -v, --version   print the version",
      "",
      "Exit codes: 0 expired or stopped (Ctrl-C) after clean-up, 1 failed, 2 bad input.",
      "",
    ].join("\n");
  }
  const about = ABOUT[topic];
  const lines = [
    about.what,
    "",
    "Usage:",
    `  ${about.usage}`,
    "",
    "Examples:",
    ...about.examples.map((e) => `  ${e}`),
  ];
  const own = FLAGS.filter((f) => f.commands.includes(topic));
  for (const group of [...new Set(own.map((f) => f.group))]) {
    lines.push("", `${group} flags:`);
    for (const f of own.filter((x) => x.group === group)) {
      const left = `  --${f.name}${f.value ? ` ${f.value}` : ""}`;
      const dflt = f.default ? ` (default: ${f.default})` : "";
      lines.push(`${left.padEnd(34)} ${f.help}${dflt}`);
    }
  }
  lines.push("", "  -h, --help                       help for this command", "");
  return lines.join("\n");
}

/** The CLI flag of an input: `--build-arg` for build-args, `--port` for port. */
function flagOf(input: string): string | undefined {
  return FLAGS.find((f) => f.input === input)?.name;
}

/** A config error in the CLI's words: `--build-arg …` instead of the Action's `build-args …`. */
export function asFlag(error: { input: string; message: string; cli?: string }): string {
  if (error.cli) return error.cli;
  const name = error.input === "context" ? "CONTEXT" : `--${flagOf(error.input) ?? error.input}`;
  return cliWords(
    error.message.startsWith(error.input) ? name + error.message.slice(error.input.length) : error.message,
  );
}

const INPUTS = new Set<string>(INPUT_NAMES);

/**
 * A message written for both doors, in the CLI's words: "the `port` input (CLI: --port)" becomes
 * "--port", other input names become their flags, the runner becomes this machine.
 */
export function cliWords(text: string): string {
  return text
    .replace(/(?:the )?`[^`]+`(?: input)?(?: to \S+)? \(CLI: `?([^)`]+)`?\)/g, "`$1`")
    .replace(/`([a-z][\w-]*): ([^`$]+)`/g, (m, name: string, value: string) =>
      INPUTS.has(name) && flagOf(name) ? `\`--${flagOf(name)} ${value}\`` : m,
    )
    .replace(/(?:the )?`([a-z][\w-]*)`(?: input)?/g, (m, name: string) =>
      INPUTS.has(name) && flagOf(name) ? `\`--${flagOf(name)}\`` : m,
    )
    .replace(/\bbefore this step\b/g, "first")
    .replace(/\bon the runner\b/g, "on this machine")
    .replace(/\bthe runner's\b/g, "this machine's")
    .replace(/\bthe runner\b/g, "this machine")
    .replace(/\ba runner\b/g, "a machine");
}

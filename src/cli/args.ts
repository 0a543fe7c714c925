import { parseArgs } from "node:util";
import type { InputName, Inputs } from "../config/types.js";

/** Flags that mirror an input of the same name (single value). */
const SINGLE: InputName[] = [
  "dockerfile",
  "target",
  "cache",
  "image",
  "port",
  "command",
  "health-path",
  "ready-timeout",
  "duration",
  "gpus",
  "memory",
  "cpus",
  "tunnel",
  "ngrok-authtoken",
  "ngrok-domain",
  "basic-auth",
  "oauth-provider",
  "oauth-client-id",
  "oauth-client-secret",
  "traffic-policy",
  "ngrok-server-addr",
  "ngrok-ca-cert",
  "name",
  "registry-username",
  "registry-password",
];
/** Repeatable flags and the multi-line input each one fills. */
const REPEATED: Record<string, InputName> = {
  "build-arg": "build-args",
  env: "env",
  "oauth-allow-email": "oauth-allow-emails",
  "oauth-allow-domain": "oauth-allow-domains",
  "allow-cidr": "allow-cidrs",
};

export interface CliArgs {
  readonly command: "up" | "share" | "help" | "version";
  readonly inputs: Inputs;
  readonly json: boolean;
  /** `share --port`: the port of the app already running on this machine. */
  readonly sharePort?: string;
}

export class UsageError extends Error {}

export function parseCliArgs(argv: readonly string[], env: NodeJS.ProcessEnv): CliArgs {
  const options: Record<string, { type: "string" | "boolean"; multiple?: boolean; short?: string }> = {
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
    version: { type: "boolean" },
  };
  for (const name of SINGLE) options[name] = { type: "string" };
  for (const flag of Object.keys(REPEATED)) options[flag] = { type: "string", multiple: true };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}. Run \`ml-preview --help\` for the flags.`);
  }
  const { values, positionals } = parsed;
  if (values.version) return { command: "version", inputs: {}, json: false };
  const command = positionals[0];
  if (values.help || command === undefined || command === "help")
    return { command: "help", inputs: {}, json: false };
  if (command !== "up" && command !== "share") {
    throw new UsageError(
      `Unknown command "${command}". Use \`ml-preview up [CONTEXT]\` or \`ml-preview share --port N\`.`,
    );
  }
  if (positionals.length > (command === "up" ? 2 : 1)) {
    throw new UsageError(`Unexpected argument "${positionals[positionals.length - 1]}".`);
  }

  const inputs: Inputs = { comment: "false" };
  for (const name of SINGLE) if (typeof values[name] === "string") inputs[name] = values[name] as string;
  for (const [flag, input] of Object.entries(REPEATED)) {
    const list = values[flag] as string[] | undefined;
    if (list?.length) inputs[input] = list.join("\n");
  }
  if (command === "up") inputs.context = positionals[1] ?? ".";
  inputs["ngrok-authtoken"] ??= env.NGROK_AUTHTOKEN ?? "";
  // Without a token a laptop user still gets a local URL instead of an error (the Action insists on one).
  inputs.tunnel ??= inputs["ngrok-authtoken"] ? "ngrok" : "none";
  const sharePort = command === "share" ? (inputs.port ?? "") : undefined;
  if (command === "share" && !sharePort)
    throw new UsageError("share needs --port: the port your app listens on, e.g. --port 8050.");
  // `share` exists to give a running app a public URL: without a token there is nothing to share.
  if (command === "share" && inputs.tunnel === "none" && values.tunnel === undefined) {
    throw new UsageError(
      `share needs an ngrok authtoken for a public URL: set NGROK_AUTHTOKEN (or --ngrok-authtoken). Your app is already at http://127.0.0.1:${sharePort} on this machine.`,
    );
  }
  return { command, inputs, json: values.json === true, sharePort };
}

export const USAGE = `ml-preview — live, time-limited previews of ML web apps

Usage:
  ml-preview up [CONTEXT] [flags]    build (or --image), run, wait until ready, tunnel, hold, clean up
  ml-preview share --port N [flags]  a public URL for an app already running on this machine

Flags (mirror the action's inputs):
  --dockerfile F  --build-arg K=V (repeat)  --target T  --cache none|gha|registry:REF  --image REF
  --port N  --env K=V (repeat)  --command CMD  --health-path P  --ready-timeout 5m  --duration 30m
  --gpus all|N  --memory 4g  --cpus 1.5  --name NAME
  --tunnel ngrok|none  --ngrok-authtoken T (default: $NGROK_AUTHTOKEN)  --ngrok-domain D
  --basic-auth user:pass  --oauth-provider P  --oauth-allow-email E (repeat)  --oauth-allow-domain D (repeat)
  --oauth-client-id ID  --oauth-client-secret SECRET (your own OAuth app; needed for amazon, facebook)
  --allow-cidr CIDR (repeat)  --traffic-policy YAML|JSON  --ngrok-server-addr H:P  --ngrok-ca-cert PATH (or =PEM)
  --json   one JSON object per line on stdout, nothing else

Exit codes: 0 expired or stopped (Ctrl-C) after clean-up, 1 failed, 2 bad input.
`;

/** A config error in the CLI's words: `--build-arg …` instead of the Action's `build-args …`. */
export function asFlag(error: { input: string; message: string }): string {
  const flag = Object.entries(REPEATED).find(([, input]) => input === error.input)?.[0] ?? error.input;
  const name = error.input === "context" ? "CONTEXT" : `--${flag}`;
  return error.message.startsWith(error.input)
    ? name + error.message.slice(error.input.length)
    : error.message;
}

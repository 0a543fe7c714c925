/**
 * What the GitHub runner does with a step's stdout and stderr lines: workflow commands, as actions/runner
 * (src/Runner.Common/ActionCommand.cs, src/Runner.Worker/ActionCommandManager.cs, Handlers/OutputManager.cs,
 * 2026) carries them out. Each line is tried with TryParseV2 (`::name k=v,k=v::data` after leading white
 * space), then the legacy TryParse (`##[name k=v;k=v]data` anywhere in the line); only registered names parse.
 * One command manager per step serves both streams, so stop-commands spans stdout and stderr alike.
 *
 * Still honoured on stdout (2026): save-state and set-output (deprecated: a warning at most, the value is
 * taken), add-mask, warning/error/notice, debug, group/endgroup, echo, add-matcher/remove-matcher,
 * stop-commands. set-env and add-path fail the step unless ACTIONS_ALLOW_UNSECURE_COMMANDS is true.
 * Values saved this way are taken before the file commands (GITHUB_STATE, GITHUB_OUTPUT), which the runner
 * reads after the step: a file value wins for the same name; a name only a line set keeps that line's value.
 *
 * Where this differs: the runner's prefix matching is culture-sensitive (ICU) and skips ignorable characters
 * such as U+200B; it then cuts the command name at a fixed offset, so such a line never names a registered
 * command there either. Problem matchers (add-matcher) are recorded, not applied.
 */

export interface Annotation {
  readonly type: "warning" | "error" | "notice";
  readonly message: string;
  readonly properties: Readonly<Record<string, string>>;
}

export interface ParsedCommand {
  readonly command: string;
  readonly properties: Record<string, string>;
  readonly data: string;
}

/** ActionCommandManager.Initialize: stop-commands and every command extension (ExtensionManager.cs). */
const REGISTERED = [
  "stop-commands",
  "set-env",
  "set-output",
  "save-state",
  "add-path",
  "add-mask",
  "add-matcher",
  "remove-matcher",
  "warning",
  "error",
  "notice",
  "debug",
  "group",
  "endgroup",
  "echo",
];

/** .NET's string.TrimStart(): char.IsWhiteSpace (Unicode White_Space; unlike JS, U+0085 and not U+FEFF). */
const DOTNET_LEADING_SPACE = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/;

/** ActionCommand.TryParseV2. */
export function parseV2(message: string, registered: ReadonlySet<string>): ParsedCommand | undefined {
  if (!message) return undefined;
  const text = message.replace(DOTNET_LEADING_SPACE, "");
  if (!text.startsWith("::")) return undefined;
  const end = text.indexOf("::", 2);
  if (end < 0) return undefined;
  const info = text.slice(2, end);
  const space = info.indexOf(" ");
  const command = space < 0 ? info : info.slice(0, space);
  if (!registered.has(command.toLowerCase())) return undefined;
  const properties: Record<string, string> = {};
  if (space > 0) {
    for (const prop of info
      .slice(space + 1)
      .trim()
      .split(",")
      .filter(Boolean)) {
      const pair = splitPair(prop);
      if (pair) properties[pair[0]] = unescapeValue(pair[1], PROPERTY_ESCAPES);
    }
  }
  return { command, properties, data: unescapeValue(text.slice(end + 2), DATA_ESCAPES) };
}

/** ActionCommand.TryParse: the `##[` prefix anywhere in the line. */
export function parseLegacy(message: string, registered: ReadonlySet<string>): ParsedCommand | undefined {
  const prefix = message.indexOf("##[");
  if (prefix < 0) return undefined;
  const rb = message.indexOf("]", prefix);
  if (rb < 0) return undefined;
  const info = message.slice(prefix + 3, rb);
  const space = info.indexOf(" ");
  const command = space < 0 ? info : info.slice(0, space);
  if (!registered.has(command.toLowerCase())) return undefined;
  const properties: Record<string, string> = {};
  if (space > 0) {
    for (const prop of info
      .slice(space + 1)
      .split(";")
      .filter(Boolean)) {
      const pair = splitPair(prop);
      if (pair) properties[pair[0]] = unescapeValue(pair[1], LEGACY_ESCAPES);
    }
  }
  return { command, properties, data: unescapeValue(message.slice(rb + 1), LEGACY_ESCAPES) };
}

/**
 * `Split('=', count: 2, RemoveEmptyEntries)` (.NET's SplitWithPostProcessing), kept only when it yields two
 * parts: empty entries are skipped, also the ones right before the last part (`k==v` is k and v).
 */
function splitPair(prop: string): [string, string] | undefined {
  const text = prop.replace(/^=+/, "");
  const eq = text.indexOf("=");
  if (eq < 0) return undefined;
  const value = text.slice(eq + 1).replace(/^=+/, "");
  return value ? [text.slice(0, eq), value] : undefined;
}

const DATA_ESCAPES: Array<[string, string]> = [
  ["%0D", "\r"],
  ["%0A", "\n"],
  ["%25", "%"],
];
const PROPERTY_ESCAPES: Array<[string, string]> = [
  ["%0D", "\r"],
  ["%0A", "\n"],
  ["%3A", ":"],
  ["%2C", ","],
  ["%25", "%"],
];
const LEGACY_ESCAPES: Array<[string, string]> = [
  ["%3B", ";"],
  ["%0D", "\r"],
  ["%0A", "\n"],
  ["%5D", "]"],
  ["%25", "%"],
];

/** In the runner's order, each mapping over the whole string in turn. */
function unescapeValue(text: string, mappings: Array<[string, string]>): string {
  return mappings.reduce((t, [from, to]) => t.split(from).join(to), text);
}

/** One step's command manager (ActionCommandManager.TryProcessCommand) and what its commands did. */
export class StepCommands {
  readonly annotations: Annotation[] = [];
  /** save-state and set-output taken from lines (the file commands are read after the step). */
  readonly state: Record<string, string> = {};
  readonly outputs: Record<string, string> = {};
  readonly masks: string[] = [];
  readonly matchers: string[] = [];
  /** Commands the runner would answer with "Unable to process command" (the step then fails). */
  readonly failures: string[] = [];
  private readonly registered = new Set(REGISTERED);
  private stopToken: string | undefined;

  constructor(private readonly env: NodeJS.ProcessEnv = {}) {}

  /** One line as OutputManager.OnDataReceived hands it over; true when it was taken as a command. */
  line(line: string): boolean {
    if (!line || (!line.includes("##[") && !line.includes("::"))) return false;
    const cmd = parseV2(line, this.registered) ?? parseLegacy(line, this.registered);
    if (!cmd) return false;
    const name = cmd.command.toLowerCase();
    if (this.stopToken !== undefined) {
      if (name !== this.stopToken.toLowerCase()) return false; // printed as text
      this.registered.delete(this.stopToken.toLowerCase());
      this.stopToken = undefined;
      return true;
    }
    try {
      if (name === "stop-commands") this.stopCommands(cmd.data);
      else this.carryOut(name, cmd);
    } catch (err) {
      this.failures.push(`${line}: ${(err as Error).message}`);
      this.annotations.push({
        type: "error",
        message: `Unable to process command '${line}' successfully.`,
        properties: {},
      });
    }
    return true;
  }

  /** ValidateStopToken: not empty, not `pause-logging`, not a registered command (unless allowed by env). */
  private stopCommands(token: string): void {
    const invalid =
      !token || token.toLowerCase() === "pause-logging" || this.registered.has(token.toLowerCase());
    if (invalid && this.env.ACTIONS_ALLOW_UNSECURE_STOPCOMMAND_TOKENS !== "true")
      throw new Error(`stop-commands with the invalid token ${JSON.stringify(token)}: the runner refuses it`);
    this.stopToken = token;
    this.registered.add(token.toLowerCase());
    if (token.length > 6) this.masks.push(token);
  }

  private carryOut(name: string, cmd: ParsedCommand): void {
    const prop = (key: string) =>
      Object.entries(cmd.properties).find(([k]) => k.toLowerCase() === key.toLowerCase())?.[1];
    switch (name) {
      case "set-env":
      case "add-path":
        if (this.env.ACTIONS_ALLOW_UNSECURE_COMMANDS !== "true")
          throw new Error(`The \`${name}\` command is disabled.`);
        return;
      case "set-output":
      case "save-state": {
        const key = prop("name");
        if (!key) throw new Error(`Required field 'name' is missing in ##[${name}] command.`);
        (name === "set-output" ? this.outputs : this.state)[key] = cmd.data;
        return;
      }
      case "add-mask":
        if (cmd.data.trim()) this.masks.push(cmd.data);
        return;
      case "add-matcher":
      case "remove-matcher":
        this.matchers.push(`${name} ${cmd.data}`);
        return;
      case "warning":
      case "error":
      case "notice":
        this.annotations.push({ type: name, message: cmd.data, properties: cmd.properties });
        return;
      case "echo":
        if (!["on", "off"].includes(cmd.data.trim().toLowerCase()))
          throw new Error("Invalid echo command value. Possible values can be: 'on', 'off'.");
        return;
      default: // debug, group, endgroup: the log only
        return;
    }
  }
}

/**
 * A stream's text cut into lines as .NET's StreamReader.ReadLine cuts them (at \n, \r\n and a lone \r), fed
 * in chunks as they arrive; `end()` hands over a last line without a newline.
 */
export function lineSplitter(onLine: (line: string) => void): {
  push: (chunk: string) => void;
  end: () => void;
} {
  let rest = "";
  return {
    push(chunk) {
      rest += chunk;
      // A \r at the very end may be the first half of \r\n: wait for the next chunk.
      const upTo = rest.endsWith("\r") ? rest.length - 1 : rest.length;
      const re = /\r\n|\r|\n/g;
      let from = 0;
      for (let m = re.exec(rest); m && m.index < upTo; m = re.exec(rest)) {
        onLine(rest.slice(from, m.index));
        from = m.index + m[0].length;
      }
      rest = rest.slice(from);
    },
    end() {
      if (rest.endsWith("\r")) rest = rest.slice(0, -1);
      if (rest) onLine(rest);
      rest = "";
    },
  };
}

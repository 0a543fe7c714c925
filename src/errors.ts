/** Lifecycle steps, as named in the failed comment and the logs. */
export type PreviewStep =
  | "config"
  | "build"
  | "pull"
  | "run"
  | "ready"
  | "tunnel"
  | "verify"
  | "live"
  | "github";

/**
 * An error the user can act on: `message` says what happened and what to do next.
 * Everything thrown by src/docker, src/tunnel and src/github towards the lifecycle is one of these.
 */
export class PreviewError extends Error {
  readonly step: PreviewStep;
  readonly exitCode?: number;
  readonly logLines?: readonly string[];
  /** A stable machine code, e.g. ERR_NGROK_334 or DOCKER_BUILD_FAILED. */
  readonly code?: string;

  constructor(
    step: PreviewStep,
    message: string,
    extra: { exitCode?: number; logLines?: readonly string[]; code?: string; cause?: unknown } = {},
  ) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.name = "PreviewError";
    this.step = step;
    this.exitCode = extra.exitCode;
    this.logLines = extra.logLines;
    this.code = extra.code;
  }
}

/** A bad input: named, with what was wrong and how to fix it. The CLI exits 2, the Action fails before starting. */
export class ConfigError extends Error {
  readonly input: string;
  /** The same error in the CLI's words (flags, this machine), where the Action's advice does not apply. */
  readonly cli?: string;
  constructor(input: string, message: string, cli?: string) {
    super(message);
    this.name = "ConfigError";
    this.input = input;
    this.cli = cli;
  }
}

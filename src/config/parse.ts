import * as core from "@actions/core";
import { ConfigError } from "../errors.js";
import * as image from "./check/image.js";
import * as list from "./check/lists.js";
import * as net from "./check/network.js";
import * as paths from "./check/paths.js";
import { cacheDirProblem } from "./check/paths.js";
import * as protect from "./check/protection.js";
import * as res from "./check/scalars.js";
import * as scalar from "./check/scalars.js";
import { buildSecrets, buildSecretValues } from "./check/secrets.js";
import { buildTrafficPolicy } from "./policy.js";
import type {
  AppSource,
  CacheDirsConfig,
  InputName,
  Inputs,
  PreviewConfig,
  Protection,
  TunnelConfig,
} from "./types.js";
import { INPUT_NAMES } from "./types.js";

/** Every bad input at once, so one run shows the user everything to fix. */
export class ConfigErrors extends Error {
  readonly errors: readonly ConfigError[];
  constructor(errors: ConfigError[]) {
    super(errors.map((e) => e.message).join("\n"));
    this.name = "ConfigErrors";
    this.errors = errors;
  }
}

export interface ParseContext {
  /** Relative paths resolve from here; context and dockerfile must stay inside it. */
  readonly workspace: string;
  /** A pull_request from a fork gets no secrets: a missing ngrok token then means "skip", not "error". */
  readonly forkPullRequest?: boolean;
  /** Where other relative paths (ngrok-ca-cert) resolve from; default: the workspace. */
  readonly cwd?: string;
  /** The CLI's `share --port`: no image, the app already runs on this machine. */
  readonly sharePort?: number;
  /** The longest `duration`: MAX_DURATION under GitHub Actions (its job limit), CLI_MAX_DURATION elsewhere. */
  readonly maxDuration?: { readonly maxMs: number; readonly maxText: string };
}

export const MAX_DURATION = { maxMs: (5 * 60 + 50) * 60_000, maxText: "5h50m" };
/**
 * Outside GitHub Actions no job limit applies; a day is still the cap: a public URL to this machine for
 * longer is more likely a typo (`30h` for `30m`) than a review, and a longer need is a deployment.
 */
export const CLI_MAX_DURATION = { maxMs: 24 * 60 * 60_000, maxText: "24h" };
const MAX_READY_TIMEOUT = { maxMs: 60 * 60_000, maxText: "1h" };

/** Turn raw inputs into one validated, frozen PreviewConfig, or throw ConfigErrors naming every bad input. */
export function parseConfig(inputs: Inputs, ctx: ParseContext): PreviewConfig {
  const r = reader(inputs);
  const { get, has, check, opt, errors } = r;
  const bool = (name: InputName, dflt: boolean) => opt(name, (v) => scalar.boolean(name, v)) ?? dflt;
  const source = parseSource(r, ctx);
  const tunnel = check(() => parseTunnel(inputs, ctx, r));
  const durationMs = check(() =>
    scalar.duration("duration", get("duration") || "30m", ctx.maxDuration ?? MAX_DURATION),
  );
  const readyTimeoutMs = check(() =>
    scalar.duration("ready-timeout", get("ready-timeout") || "5m", MAX_READY_TIMEOUT),
  );
  const env = check(() => list.keyValues("env", get("env"), true)) ?? {};

  const partial = {
    name: check(() => scalar.previewName(get("name") || "app")),
    source,
    port: has("port") && get("port") !== "auto" ? check(() => scalar.port("port", get("port"))) : undefined,
    env,
    command: opt("command", (v) => list.argv("command", v)),
    healthPath:
      has("health-path") && get("health-path") !== "auto"
        ? check(() => scalar.healthPath(get("health-path")))
        : undefined,
    readyTimeoutMs,
    durationMs,
    wait: bool("wait", true),
    stopOnClose: bool("stop-on-close", true),
    resources: {
      gpus: opt("gpus", res.gpus),
      memoryBytes: opt("memory", res.memory),
      nanoCpus: opt("cpus", res.cpus),
    },
    cacheDirs: check(() => cacheDirs(get)),
    tunnel,
    github: {
      token: get("github-token"),
      prNumber: opt("pr-number", (v) => scalar.positiveInteger("pr-number", v, "a pull request number")),
      prSha: opt("pr-sha", (v) => scalar.commitSha("pr-sha", v, has("pr-number"))),
      comment: bool("comment", true),
      deployment: bool("deployment", false),
      qrCode: bool("qr-code", true),
      allowForkLabel: get("allow-fork-label") || undefined,
    },
  };
  if (errors.length > 0) throw new ConfigErrors(errors);
  const config = { ...partial, secrets: collectSecrets(inputs, env) } as PreviewConfig;
  return deepFreeze(config);
}

/** The inputs being read, and the errors found so far: a failed check records its error and reading goes on. */
interface Reader {
  readonly get: (name: InputName) => string;
  readonly has: (name: InputName) => boolean;
  readonly check: <T>(fn: () => T) => T | undefined;
  readonly opt: <T>(name: InputName, fn: (raw: string) => T) => T | undefined;
  readonly errors: ConfigError[];
}

function reader(inputs: Inputs): Reader {
  const errors: ConfigError[] = [];
  const get = (name: InputName) => (inputs[name] ?? "").trim();
  const has = (name: InputName) => get(name) !== "";
  function check<T>(fn: () => T): T | undefined {
    try {
      return fn();
    } catch (err) {
      if (err instanceof ConfigError) errors.push(err);
      else throw err;
      return undefined;
    }
  }
  const opt = <T>(name: InputName, fn: (raw: string) => T): T | undefined =>
    has(name) ? check(() => fn(get(name))) : undefined;
  return { get, has, check, opt, errors };
}

/** What to run: the app on this machine (`share`), the `image` input, or a build of the context. */
function parseSource(r: Reader, ctx: ParseContext): AppSource | undefined {
  const { get, has, check, opt, errors } = r;

  const registryAuth = check(() => {
    if (has("registry-username") !== has("registry-password")) {
      const missing = has("registry-username") ? "registry-password" : "registry-username";
      throw new ConfigError(
        missing,
        `${missing} is missing: registry-username and registry-password go together. Give both (e.g. \${{ github.actor }} and \${{ secrets.GITHUB_TOKEN }} for ghcr.io) or neither.`,
        `--${missing} is missing: --registry-username and --registry-password go together. Give both or neither.`,
      );
    }
    return has("registry-username")
      ? { username: get("registry-username"), password: get("registry-password") }
      : undefined;
  });

  let source: AppSource | undefined;
  if (ctx.sharePort !== undefined) {
    source = { kind: "share", port: ctx.sharePort };
  } else if (has("image")) {
    const ref = opt("image", (v) => image.imageReference("image", v));
    if (ref) source = { kind: "image", image: ref, registryAuth };
  } else {
    const contextDir = check(() => paths.context(ctx.workspace, get("context") || "."));
    const dockerfile = contextDir ? check(() => paths.dockerfile(contextDir, get("dockerfile"))) : undefined;
    const buildArgs = check(() => list.keyValues("build-args", get("build-args"), false));
    const secrets = check(() => buildSecrets(get("build-secrets")));
    const cache = check(() => image.cache(get("cache")));
    const target = get("target") || undefined;
    if (target !== undefined && !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(target)) {
      errors.push(
        new ConfigError(
          "target",
          `target "${target}" is not a build stage name. Use the name after "AS" in your Dockerfile's FROM line.`,
        ),
      );
    }
    if (contextDir && dockerfile && buildArgs && secrets && cache) {
      const buildSecrets = Object.keys(secrets).length > 0 ? secrets : undefined;
      source = {
        kind: "build",
        context: contextDir,
        dockerfile,
        buildArgs,
        buildSecrets,
        target,
        cache,
        registryAuth,
      };
    }
  }
  return source;
}

function parseTunnel(inputs: Inputs, ctx: ParseContext, r: Reader): TunnelConfig {
  const { get, check, errors } = r;
  const provider = get("tunnel") || "ngrok";
  if (provider === "none") return { provider: "none" };
  if (provider !== "ngrok") {
    throw new ConfigError(
      "tunnel",
      `tunnel "${provider}" is not known. Use ngrok (a public URL) or none (a local URL only).`,
    );
  }
  const authtoken = get("ngrok-authtoken");
  if (authtoken === "" && !ctx.forkPullRequest) {
    errors.push(
      new ConfigError(
        "ngrok-authtoken",
        "ngrok-authtoken is empty but tunnel is ngrok. Add your ngrok authtoken as a repository secret NGROK_AUTHTOKEN and pass `ngrok-authtoken: ${{ secrets.NGROK_AUTHTOKEN }}`, or set `tunnel: none` for a local URL only.",
        "--tunnel ngrok needs your ngrok authtoken: set NGROK_AUTHTOKEN, pass --ngrok-authtoken, or run `ngrok config add-authtoken TOKEN` once; or use --tunnel none for a local URL only.",
      ),
    );
  }
  const oauth = parseOAuth(r);
  const protection: Protection = {
    basicAuth: get("basic-auth") ? check(() => protect.basicAuth(get("basic-auth"))) : undefined,
    oauth,
    allowCidrs: list.items(get("allow-cidrs")).map((c) => check(() => net.cidr(c)) ?? ""),
    trafficPolicy: get("traffic-policy")
      ? check(() => protect.trafficPolicy(inputs["traffic-policy"] ?? ""))
      : undefined,
  };
  // Merge the protections with the raw policy now, so a conflict ngrok would refuse is an input error.
  if (
    protection.trafficPolicy !== undefined ||
    protection.basicAuth ||
    protection.oauth ||
    protection.allowCidrs.length
  ) {
    check(() => buildTrafficPolicy(protection));
  }
  return {
    provider: "ngrok",
    authtoken,
    domain: get("ngrok-domain") ? check(() => net.domain("ngrok-domain", get("ngrok-domain"))) : undefined,
    serverAddr: get("ngrok-server-addr") ? check(() => net.hostPort(get("ngrok-server-addr"))) : undefined,
    caCert: get("ngrok-ca-cert")
      ? check(() => protect.caCert(ctx.cwd ?? ctx.workspace, inputs["ngrok-ca-cert"] ?? ""))
      : undefined,
    protection,
  };
}

/** `oauth-provider` with who may pass (`oauth-allow-emails`/`-domains`) and its own app, if any. */
function parseOAuth(r: Reader): Protection["oauth"] {
  const { get, check, errors } = r;
  const oauthProvider = get("oauth-provider")
    ? check(() => protect.oauthProvider(get("oauth-provider")))
    : undefined;
  const allowEmails = list.items(get("oauth-allow-emails")).map((e) => check(() => net.email(e)) ?? "");
  const allowDomains = list
    .items(get("oauth-allow-domains"))
    .map((d) => check(() => net.domain("oauth-allow-domains", d)) ?? "");
  if (!get("oauth-provider") && (allowEmails.length > 0 || allowDomains.length > 0)) {
    errors.push(
      new ConfigError(
        "oauth-provider",
        "oauth-provider is missing: oauth-allow-emails/oauth-allow-domains need it (e.g. google) to know how people sign in.",
      ),
    );
  }
  if (get("oauth-provider") && allowEmails.length === 0 && allowDomains.length === 0) {
    errors.push(
      new ConfigError(
        "oauth-allow-emails",
        `oauth-allow-emails (or oauth-allow-domains) is empty, so nobody is allowed: without them anyone with a ${get("oauth-provider")} account could open the preview. List the emails or domains of your reviewers.`,
      ),
    );
  }
  const client = oauthProvider
    ? check(() => protect.oauthClient(oauthProvider, get("oauth-client-id"), get("oauth-client-secret")))
    : undefined;
  if (!get("oauth-provider") && (get("oauth-client-id") || get("oauth-client-secret"))) {
    errors.push(
      new ConfigError(
        "oauth-provider",
        "oauth-provider is missing: oauth-client-id/oauth-client-secret belong to an OAuth app of a provider (e.g. github). Set oauth-provider, or drop them.",
      ),
    );
  }
  return oauthProvider ? { provider: oauthProvider, ...client, allowEmails, allowDomains } : undefined;
}

/** `cache-dirs` (one container path per line) with its key inputs; bad entries name the input and the fix. */
function cacheDirs(get: (name: InputName) => string): CacheDirsConfig {
  const paths = list.lines(get("cache-dirs"));
  for (const path of paths) {
    const problem = cacheDirProblem(path);
    if (problem) throw new ConfigError("cache-dirs", `cache-dirs: ${problem}`, `--cache-dir: ${problem}`);
  }
  const key = get("cache-key") || undefined;
  const restoreKeys = list.lines(get("cache-restore-keys"));
  for (const [input, value] of [
    ["cache-key", key ?? ""],
    ...restoreKeys.map((k) => ["cache-restore-keys", k]),
  ] as const) {
    if (value.length > 512 || value.includes(","))
      throw new ConfigError(
        input,
        `${input} "${value.slice(0, 40)}${value.length > 40 ? "…" : ""}" is not a cache key GitHub accepts: keys are at most 512 characters and contain no commas.`,
      );
  }
  if (paths.length === 0 && (key || restoreKeys.length > 0))
    throw new ConfigError(
      key ? "cache-key" : "cache-restore-keys",
      `${key ? "cache-key" : "cache-restore-keys"} is set but cache-dirs is empty: list the container paths the app downloads into (e.g. /root/.cache/huggingface), or drop it.`,
    );
  return { paths, key, restoreKeys };
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** The action's inputs as the runner passes them (INPUT_<NAME> env, defaults already filled in). */
export function readActionInputs(): Inputs {
  const inputs: Inputs = {};
  for (const name of INPUT_NAMES) {
    // Multi-line inputs (env, build-args, build-secrets, traffic-policy) keep their inner lines; getInput only trims the ends.
    inputs[name] = core.getInput(name);
  }
  return inputs;
}

/**
 * Env values shorter than this are not treated as secrets: masking "1" or "true" would turn every such
 * string in the log into "***". Real secrets are longer.
 */
export const MIN_ENV_SECRET_LENGTH = 4;

/**
 * Every value that must never be printed: tokens, passwords, container env values, build-arg values
 * (people pass tokens that way, and a failing step may print them), build secrets. Build-arg and env
 * values are read leniently here (masking comes before validation), and, as env values, only from
 * MIN_ENV_SECRET_LENGTH characters on.
 */
export function collectSecrets(inputs: Inputs, env: Record<string, string>): string[] {
  const out = new Set<string>();
  for (const name of [
    "ngrok-authtoken",
    "registry-password",
    "github-token",
    "oauth-client-secret",
  ] as const) {
    const v = inputs[name]?.trim();
    if (v) out.add(v);
  }
  const basic = inputs["basic-auth"]?.trim();
  if (basic) {
    out.add(basic);
    const password = basic.slice(basic.indexOf(":") + 1);
    if (password) out.add(password);
  }
  const buildArgs = (inputs["build-args"] ?? "")
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line.indexOf("=") > 0)
    .map((line) => line.slice(line.indexOf("=") + 1));
  const buildSecrets = buildSecretValues(inputs["build-secrets"] ?? "");
  for (const v of [...Object.values(env), ...buildArgs, ...buildSecrets])
    if (v.length >= MIN_ENV_SECRET_LENGTH) out.add(v);
  return [...out];
}

/** Raw inputs keyed by the kebab-case names of action.yml (the CLI maps its flags onto the same names). */
export const INPUT_NAMES = [
  "context",
  "dockerfile",
  "build-args",
  "build-secrets",
  "target",
  "image",
  "cache",
  "cache-dirs",
  "cache-key",
  "cache-restore-keys",
  "registry-username",
  "registry-password",
  "port",
  "env",
  "command",
  "health-path",
  "ready-timeout",
  "duration",
  "wait",
  "stop-on-close",
  "gpus",
  "memory",
  "cpus",
  "tunnel",
  "ngrok-authtoken",
  "ngrok-domain",
  "basic-auth",
  "oauth-provider",
  "oauth-allow-emails",
  "oauth-allow-domains",
  "oauth-client-id",
  "oauth-client-secret",
  "allow-cidrs",
  "traffic-policy",
  "ngrok-server-addr",
  "ngrok-ca-cert",
  "github-token",
  "pr-number",
  "pr-sha",
  "name",
  "comment",
  "deployment",
  "qr-code",
  "allow-fork-label",
] as const;

export type InputName = (typeof INPUT_NAMES)[number];
export type Inputs = Partial<Record<InputName, string>>;

/** Every state a preview can be in (INTERFACES.md), in the order a preview goes through them. */
export const PREVIEW_STATES = [
  "building",
  "starting",
  "live",
  "failed",
  "expired",
  "stopped",
  "superseded",
  "skipped",
] as const;

export type PreviewState = (typeof PREVIEW_STATES)[number];

export type CacheConfig = { kind: "none" } | { kind: "gha" } | { kind: "registry"; ref: string };

export interface CacheDirsConfig {
  /** Absolute container paths, each a named volume; empty = no cache. */
  readonly paths: readonly string[];
  /** `cache-key`; undefined = the default key (see defaultCacheKey). */
  readonly key?: string;
  readonly restoreKeys: readonly string[];
}

export interface RegistryAuth {
  readonly username: string;
  readonly password: string;
}

/** Where the app comes from: built from a context, pulled as an image, or already running (CLI `share`). */
export type AppSource =
  | {
      readonly kind: "build";
      /** Absolute path of the build context. */
      readonly context: string;
      /** Dockerfile path relative to the context (POSIX separators). */
      readonly dockerfile: string;
      readonly buildArgs: Readonly<Record<string, string>>;
      /** `build-secrets`: id → value, mounted by BuildKit for `RUN --mount=type=secret,id=<id>` only. */
      readonly buildSecrets?: Readonly<Record<string, string>>;
      readonly target?: string;
      readonly cache: CacheConfig;
      readonly registryAuth?: RegistryAuth;
    }
  | { readonly kind: "image"; readonly image: string; readonly registryAuth?: RegistryAuth }
  | { readonly kind: "share"; readonly port: number };

export interface Resources {
  /** `all` or a number of GPUs. */
  readonly gpus?: "all" | number;
  readonly memoryBytes?: number;
  readonly nanoCpus?: number;
}

export interface OAuthProtection {
  readonly provider: string;
  /** A custom OAuth app; required for providers ngrok manages no app for (amazon, facebook). */
  readonly clientId?: string;
  readonly clientSecret?: string;
  readonly allowEmails: readonly string[];
  readonly allowDomains: readonly string[];
}

export interface Protection {
  readonly basicAuth?: { readonly username: string; readonly password: string };
  readonly oauth?: OAuthProtection;
  readonly allowCidrs: readonly string[];
  /** Parsed raw traffic policy (YAML or JSON input), merged with the protections above. */
  readonly trafficPolicy?: Readonly<Record<string, unknown>>;
}

export type TunnelConfig =
  | { readonly provider: "none" }
  | {
      readonly provider: "ngrok";
      /** Empty when no token was given (a fork PR, or the user forgot): the lifecycle decides skipped vs failed. */
      readonly authtoken: string;
      readonly domain?: string;
      readonly serverAddr?: string;
      /** PEM text of the CA for a dedicated agent ingress. */
      readonly caCert?: string;
      readonly protection: Protection;
    };

export interface GitHubConfig {
  readonly token: string;
  readonly prNumber?: number;
  /** `pr-sha`: the commit of `pr-number` a maintainer reviewed (7–40 hex, lower case); required for a fork's code. */
  readonly prSha?: string;
  readonly comment: boolean;
  readonly deployment: boolean;
  readonly qrCode: boolean;
  readonly allowForkLabel?: string;
}

/** One validated, frozen description of a preview, from action inputs or CLI flags. */
export interface PreviewConfig {
  readonly name: string;
  readonly source: AppSource;
  /** Container port; undefined = detect from the image (EXPOSE, then framework defaults). */
  readonly port?: number;
  readonly env: Readonly<Record<string, string>>;
  /** Command override, split shell-style into argv. */
  readonly command?: readonly string[];
  /** HTTP readiness path; undefined = framework-aware default. */
  readonly healthPath?: string;
  readonly readyTimeoutMs: number;
  readonly durationMs: number;
  readonly wait: boolean;
  readonly stopOnClose: boolean;
  readonly resources: Resources;
  /** `cache-dirs`: what the app downloads at start-up, kept between previews (see docker/cache-dirs.ts). */
  readonly cacheDirs: CacheDirsConfig;
  readonly tunnel: TunnelConfig;
  readonly github: GitHubConfig;
  /** Every secret value in this config (tokens, passwords, env values): never printed, scrubbed from text. */
  readonly secrets: readonly string[];
}

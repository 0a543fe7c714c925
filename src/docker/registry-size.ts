import type Docker from "dockerode";
import type { RegistryAuth } from "../config/types.js";
import type { Logger } from "../log.js";
import { engineMessage } from "./docker-errors.js";
import { registryOf } from "./image-ref.js";

/**
 * What an image's registry says it weighs, for the disk check before a pull: the engine resolves the
 * reference (`GET /distribution/{name}/json`: the manifest's digest and the platforms it serves, with the
 * pull's own credentials), then the registry's manifest for the engine's platform lists the compressed
 * size of every layer. The engine does not pass layer sizes on, so the manifest is read here with the
 * same credentials, by the registry API's token handshake. Anything the registry does not say (no
 * answer, no credentials, an unknown manifest type) is `undefined`: the check then keeps its margin.
 */

const MANIFEST_TYPES = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
];

/** A registry that answers slower than this is not waited for: the pull itself matters more. */
const REGISTRY_TIMEOUT_MS = 5_000;

export interface ImageSize {
  /** Compressed bytes: the config and every layer of the manifest for `platform`. */
  readonly compressedBytes: number;
  /** e.g. linux/amd64. */
  readonly platform: string;
}

interface Manifest {
  readonly mediaType?: string;
  readonly manifests?: {
    digest: string;
    platform?: { os?: string; architecture?: string; variant?: string };
  }[];
  readonly config?: { size?: number };
  readonly layers?: { size?: number }[];
}

/** The registry's size of `ref` for the engine's platform, or undefined (and one debug line) when it does not say. */
export async function registryImageSize(
  docker: Docker,
  ref: string,
  credentials: { auth: RegistryAuth | undefined; authconfig: Docker.AuthConfig | undefined },
  log: Logger,
): Promise<ImageSize | undefined> {
  const { auth, authconfig } = credentials;
  try {
    const signal = AbortSignal.timeout(REGISTRY_TIMEOUT_MS);
    // dockerode does not pass an abort signal on for this endpoint: the wait is bounded here instead.
    const resolved = await Promise.race([
      docker.getImage(ref).distribution({ authconfig }),
      new Promise<never>((_, reject) => signal.addEventListener("abort", () => reject(signal.reason))),
    ]);
    const version = (await docker.version()) as { Os?: string; Arch?: string };
    const os = version.Os ?? "linux";
    const arch = version.Arch ?? "amd64";
    const registry = new RegistryReader(ref, auth, await insecure(docker, ref), signal);
    let manifest = await registry.manifest(resolved.Descriptor.digest);
    if (manifest.manifests) {
      const entry = manifest.manifests.find((m) => m.platform?.os === os && m.platform.architecture === arch);
      if (!entry) throw new Error(`it lists no manifest for ${os}/${arch}`);
      manifest = await registry.manifest(entry.digest);
    }
    if (!manifest.layers)
      throw new Error(`its manifest (${manifest.mediaType ?? "no media type"}) lists no layers`);
    const compressedBytes = [manifest.config, ...manifest.layers].reduce((sum, d) => sum + (d?.size ?? 0), 0);
    return { compressedBytes, platform: `${os}/${arch}` };
  } catch (err) {
    log.debug(
      `The registry did not say how large ${ref} is (${engineMessage(err)}); the disk check uses the pull margin alone.`,
    );
    return undefined;
  }
}

/** The repository path on its registry: `ghcr.io/o/app:1` → `o/app`; Docker Hub's `busybox` → `library/busybox`. */
export function repositoryOf(ref: string, host: string): string {
  const name = (ref.split("@")[0] ?? ref).replace(/:[^/]*$/, "");
  const slash = name.indexOf("/");
  const first = slash === -1 ? "" : name.slice(0, slash);
  const path = /[.:]/.test(first) || first === "localhost" ? name.slice(slash + 1) : name;
  return host === "registry-1.docker.io" && !path.includes("/") ? `library/${path}` : path;
}

/** Whether the engine treats the registry as insecure (plain HTTP allowed), as `docker info` says. */
async function insecure(docker: Docker, ref: string): Promise<boolean> {
  const host = registryOf(ref).host;
  const config = ((await docker.info()) as { RegistryConfig?: RegistryConfig }).RegistryConfig;
  if (config?.IndexConfigs?.[host]?.Secure === false) return true;
  const ip = host.replace(/:\d+$/, "").replace(/^\[|\]$/g, "");
  if (ip === "localhost") return true;
  return (config?.InsecureRegistryCIDRs ?? []).some((cidr) => inCidr(ip, cidr));
}

interface RegistryConfig {
  IndexConfigs?: Record<string, { Secure?: boolean }>;
  InsecureRegistryCIDRs?: string[];
}

/** IPv4 only: the engine's default insecure range is 127.0.0.0/8; other hosts simply try HTTPS. */
function inCidr(ip: string, cidr: string): boolean {
  const [base, bits] = cidr.split("/");
  const toInt = (a: string) => a.split(".").reduce((n, part) => (n << 8) + Number(part), 0) >>> 0;
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(ip) || !base || !/^\d+\.\d+\.\d+\.\d+$/.test(base)) return false;
  const mask = Number(bits) === 0 ? 0 : (~0 << (32 - Number(bits))) >>> 0;
  return (toInt(ip) & mask) === (toInt(base) & mask);
}

/**
 * Reads manifests of one repository over the registry API (distribution spec): HTTPS, or plain HTTP for a
 * registry the engine treats as insecure; a 401 is answered with the challenge it names (Bearer: a pull
 * token from the realm, with the credentials; Basic: the credentials).
 */
class RegistryReader {
  private readonly base: string[];
  private readonly repository: string;
  private authorization?: string;

  constructor(
    ref: string,
    private readonly auth: RegistryAuth | undefined,
    insecureRegistry: boolean,
    private readonly signal: AbortSignal,
  ) {
    const registry = registryOf(ref);
    this.repository = repositoryOf(ref, registry.host);
    this.base = [`https://${registry.host}`, ...(insecureRegistry ? [`http://${registry.host}`] : [])];
  }

  async manifest(digest: string): Promise<Manifest> {
    const res = await this.get(`/v2/${this.repository}/manifests/${digest}`);
    if (!res.ok) throw new Error(`the registry answered ${res.status} for the manifest`);
    return (await res.json()) as Manifest;
  }

  private async get(path: string): Promise<Response> {
    let lastError: unknown;
    for (const base of this.base) {
      try {
        let res = await this.fetch(`${base}${path}`);
        if (res.status === 401 && !this.authorization) {
          this.authorization = await this.answer(res.headers.get("www-authenticate") ?? "");
          res = await this.fetch(`${base}${path}`);
        }
        this.base.splice(0, this.base.indexOf(base)); // later requests start with the scheme that answered
        return res;
      } catch (err) {
        lastError = err;
      }
    }
    throw lastError;
  }

  private fetch(url: string): Promise<Response> {
    const headers: Record<string, string> = { accept: MANIFEST_TYPES.join(", ") };
    if (this.authorization) headers.authorization = this.authorization;
    return fetch(url, { headers, signal: this.signal, redirect: "follow" });
  }

  private async answer(challenge: string): Promise<string> {
    const basic = this.auth
      ? `Basic ${Buffer.from(`${this.auth.username}:${this.auth.password}`).toString("base64")}`
      : undefined;
    if (/^basic\b/i.test(challenge)) {
      if (!basic) throw new Error("the registry wants credentials");
      return basic;
    }
    const params = Object.fromEntries(
      [...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!.toLowerCase(), m[2]!]),
    );
    if (!/^bearer\b/i.test(challenge) || !params.realm) throw new Error(`unknown challenge "${challenge}"`);
    const url = new URL(params.realm);
    if (params.service) url.searchParams.set("service", params.service);
    url.searchParams.set("scope", params.scope ?? `repository:${this.repository}:pull`);
    const res = await fetch(url, { headers: basic ? { authorization: basic } : {}, signal: this.signal });
    if (!res.ok) throw new Error(`the registry's token service answered ${res.status}`);
    const body = (await res.json()) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!token) throw new Error("the registry's token service gave no token");
    return `Bearer ${token}`;
  }
}

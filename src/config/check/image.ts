import { ConfigError } from "../../errors.js";
import type { CacheConfig, InputName } from "../types.js";

// distribution/reference's grammar: [domain/]path[:tag][@digest], with Docker's rule for what is a domain.
const DOMAIN =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?$/;
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;

/**
 * Whether `ref` is an image reference the engine accepts: the one grammar, for the inputs and for what
 * reaches the engine's HTTP paths.
 */
export function isImageReference(ref: string): boolean {
  const [named = "", digest, ...extra] = ref.split("@");
  if (extra.length > 0 || (digest !== undefined && !DIGEST.test(digest))) return false;
  // A colon after the last slash starts the tag (one before it is a registry's port).
  const colon = named.lastIndexOf(":");
  const repository = colon > named.lastIndexOf("/") ? named.slice(0, colon) : named;
  if (named !== repository && !TAG.test(named.slice(colon + 1))) return false;
  const parts = repository.split("/");
  const first = parts[0] ?? "";
  const hasDomain = parts.length > 1 && (first.includes(".") || first.includes(":") || first === "localhost");
  if (hasDomain && !DOMAIN.test(parts.shift() ?? "")) return false;
  return repository.length <= 255 && parts.length > 0 && parts.every((p) => COMPONENT.test(p));
}

export function imageReference(input: InputName, raw: string): string {
  const text = raw.trim();
  if (!isImageReference(text)) {
    throw new ConfigError(
      input,
      `${input} "${raw}" is not a valid image reference. Use [registry/]name[:tag][@digest] with a lower-case name, e.g. ghcr.io/owner/app:pr-12.`,
    );
  }
  return text;
}

export function cache(raw: string): CacheConfig {
  const text = raw.trim() || "none";
  if (text === "none") return { kind: "none" };
  if (text === "gha") return { kind: "gha" };
  if (text.startsWith("registry:")) return { kind: "registry", ref: imageReference("cache", text.slice(9)) };
  throw new ConfigError(
    "cache",
    `cache "${raw}" is not known. Use none, gha (GitHub Actions cache through docker buildx) or registry:<image ref>, e.g. registry:ghcr.io/owner/app:preview-cache.`,
  );
}

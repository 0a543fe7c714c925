import { ConfigError } from "../../errors.js";
import type { CacheConfig, InputName } from "../types.js";

// Docker's reference grammar (distribution/reference): [host[:port]/]path[:tag][@digest], lower-case path.
const COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const HOST =
  "(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?|\\[[0-9a-fA-F:]+\\](?::[0-9]+)?)";
const REFERENCE = new RegExp(
  `^(?:${HOST}/)?${COMPONENT}(?:/${COMPONENT})*(?::[\\w][\\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$`,
);

export function imageReference(input: InputName, raw: string): string {
  const text = raw.trim();
  if (text.length > 255 || !REFERENCE.test(text)) {
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

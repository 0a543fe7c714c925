import type { PreviewLabels } from "./types.js";

/** The registry an image reference lives on, by Docker's own rule for the first path component. */
export interface Registry {
  /** Host[:port] the engine talks to, e.g. `registry-1.docker.io`, `ghcr.io`, `127.0.0.1:5000`. */
  readonly host: string;
  /** For people: `registry-1.docker.io (Docker Hub)`. */
  readonly display: string;
  /** `serveraddress` for X-Registry-Auth: Docker Hub's is the historical index URL. */
  readonly authServer: string;
}

const HUB: Registry = {
  host: "registry-1.docker.io",
  display: "registry-1.docker.io (Docker Hub)",
  authServer: "https://index.docker.io/v1/",
};

export function registryOf(ref: string): Registry {
  const slash = ref.indexOf("/");
  const first = slash === -1 ? "" : ref.slice(0, slash);
  const isHost = first.includes(".") || first.includes(":") || first === "localhost";
  if (!isHost || ["docker.io", "index.docker.io", "registry-1.docker.io"].includes(first)) return HUB;
  return { host: first, display: first, authServer: first };
}

/** `repo[:tag][@digest]` split for the push/tag APIs, which take the tag separately. */
export function splitRef(ref: string): { repository: string; tag: string } {
  const withoutDigest = ref.split("@")[0] ?? ref;
  const colon = withoutDigest.lastIndexOf(":");
  if (colon > withoutDigest.lastIndexOf("/")) {
    return { repository: withoutDigest.slice(0, colon), tag: withoutDigest.slice(colon + 1) };
  }
  return { repository: withoutDigest, tag: "latest" };
}

/**
 * The tag we give a build: `ml-preview/<owner>-<repo>-<name>:pr-<n>` (`:local` outside a PR).
 * One tag per repo/name/PR, so a rebuild replaces the previous one and its layers stay as cache.
 */
export function previewTag(labels: PreviewLabels): string {
  const repo = component(`${labels["ml-preview.repo"] || "local"}-${labels["ml-preview.name"] || "app"}`);
  const pr = labels["ml-preview.pr"];
  const tag = pr ? `pr-${pr}` : "local";
  return `ml-preview/${repo}:${tag.replace(/[^\w.-]/g, "-").slice(0, 128)}`;
}

/** A valid repository path component: lowercase [a-z0-9] runs joined by single separators. */
function component(text: string): string {
  const cleaned = text
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, "-")
    .replace(/[._-]{2,}/g, "-")
    .replace(/^[._-]+|[._-]+$/g, "");
  return cleaned.slice(0, 100) || "app";
}

import type { TunnelMetadata } from "./types.js";

/**
 * What ngrok's dashboard shows for the endpoint. The SDK's default `forwards_to` is the runner's host name
 * and executable path; ours names only the preview.
 */
export function forwardsTo(meta: TunnelMetadata): string {
  return `ml-preview:${meta.name}`;
}

/** JSON naming repo, PR, run and preview, for the session and the endpoint (viewable in ngrok's API). */
export function metadataJson(meta: TunnelMetadata): string {
  return JSON.stringify({
    tool: "ml-preview",
    name: meta.name,
    ...(meta.repo === undefined ? {} : { repo: meta.repo }),
    ...(meta.pr === undefined ? {} : { pr: meta.pr }),
    ...(meta.run === undefined ? {} : { run: meta.run }),
  });
}

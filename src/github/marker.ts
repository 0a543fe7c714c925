import { PREVIEW_STATES, type PreviewState } from "../config/types.js";

/** The machine-readable first line of every sticky comment (INTERFACES.md): names the preview, its state and run. */
export interface Marker {
  readonly name: string;
  readonly state: PreviewState;
  /** `RUN_ID.RUN_ATTEMPT` of the run that wrote the comment. */
  readonly run: string;
  /** A PR command waiting for the run that holds the preview (written by the command's run, cleared by the holder). */
  readonly request?: MarkerRequest;
}

/** `/preview stop` or `/preview extend DURATION`, as the marker carries it to the holding run. */
export interface MarkerRequest {
  readonly kind: "stop" | "extend";
  /** extend: by how much (whole seconds in the marker). */
  readonly ms?: number;
  /** The login of the person who commented. */
  readonly by: string;
  readonly at: Date;
}

const STATES: readonly PreviewState[] = PREVIEW_STATES;

// The name is user input: entity-encode the characters that could end the attribute or the HTML comment.
const encodeName = (name: string): string =>
  name.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const decodeName = (name: string): string =>
  name
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");

/** What a run searches for among the PR's comments to find the comment of preview `name`. */
export function markerPrefix(name: string): string {
  return `<!-- ml-preview name="${encodeName(name)}" `;
}

export function formatMarker(marker: Marker): string {
  const r = marker.request;
  const request = r
    ? ` request="${r.kind === "extend" ? `extend:${Math.round((r.ms ?? 0) / 1000)}` : "stop"}" by="${encodeName(r.by)}" at="${r.at.toISOString()}"`
    : "";
  return `${markerPrefix(marker.name)}state="${marker.state}" run="${marker.run}"${request} -->`;
}

// Readers accept further attributes after `run` (INTERFACES.md): older markers have none.
const MARKER = /^<!-- ml-preview name="([^"]*)" state="([a-z]+)" run="(\d+\.\d+)"((?: [a-z]+="[^"]*")*) -->/;

/** Reads the marker from a comment body's first line; undefined when the body is not one of ours. */
export function parseMarker(body: string): Marker | undefined {
  const match = MARKER.exec(body.trimStart());
  if (!match) return undefined;
  const state = match[2] as PreviewState;
  if (!STATES.includes(state)) return undefined;
  const request = parseRequest(match[4] ?? "");
  return { name: decodeName(match[1]!), state, run: match[3]!, ...(request ? { request } : {}) };
}

/** `request="stop|extend:SECONDS" by="LOGIN" at="ISO"`; anything incomplete or unknown is no request. */
function parseRequest(attrs: string): MarkerRequest | undefined {
  const get = (key: string) => new RegExp(` ${key}="([^"]*)"`).exec(attrs)?.[1];
  const request = get("request");
  const by = get("by");
  const at = new Date(get("at") ?? "");
  if (!request || !by || Number.isNaN(at.getTime())) return undefined;
  if (request === "stop") return { kind: "stop", by: decodeName(by), at };
  const seconds = /^extend:(\d{1,6})$/.exec(request)?.[1];
  if (!seconds || Number(seconds) === 0) return undefined;
  return { kind: "extend", ms: Number(seconds) * 1000, by: decodeName(by), at };
}

function runParts(run: string): [bigint, bigint] | undefined {
  const match = /^(\d+)\.(\d+)$/.exec(run);
  return match ? [BigInt(match[1]!), BigInt(match[2]!)] : undefined;
}

/**
 * True when run `a` is newer than run `b` (both `RUN_ID.RUN_ATTEMPT`): a later run id, or the same run
 * re-run as a later attempt. Anything unparsable is never newer, so garbage cannot take a comment over.
 */
export function isNewerRun(a: string, b: string): boolean {
  const pa = runParts(a);
  const pb = runParts(b);
  if (!pa || !pb) return false;
  return pa[0] !== pb[0] ? pa[0] > pb[0] : pa[1] > pb[1];
}

import { posix } from "node:path";
import ignore from "@balena/dockerignore";

/**
 * Which paths of a build context are sent, decided the way the docker CLI decides it
 * (docker/cli `build.ReadDockerignore` + `TrimBuildFilesFromExcludes`, moby `archive.TarWithOptions`).
 * Paths are relative to the context root, with POSIX separators.
 */
export interface ContextFilter {
  /** True when `.dockerignore` leaves this path out of the context. */
  excludes(path: string): boolean;
  /**
   * True when an excluded directory must still be walked because a `!` exception may bring back
   * something inside it; the directory entry itself is still not sent.
   */
  mustWalk(dir: string): boolean;
}

/** The patterns of a `.dockerignore`, normalised line by line like the CLI's reader. */
export function parseDockerignore(text: string): string[] {
  const patterns: string[] = [];
  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    const line = index === 0 ? raw.replace(/^\uFEFF/, "") : raw;
    // Comments are recognised before trimming, exactly as the CLI does.
    if (line.startsWith("#")) continue;
    let pattern = line.trim();
    if (pattern === "") continue;
    const exception = pattern.startsWith("!");
    if (exception) pattern = pattern.slice(1).trim();
    if (pattern.length > 0) pattern = cleanPattern(pattern);
    patterns.push(exception ? `!${pattern}` : pattern);
  }
  return patterns;
}

/**
 * The filter for a context. The Dockerfile and `.dockerignore` are always sent, as the CLI does
 * by appending `!` exceptions for them when a pattern would drop them (the engine needs both).
 */
export function contextFilter(patterns: readonly string[], dockerfile: string): ContextFilter {
  const all = [...patterns];
  const matcher = () => ignore({ ignorecase: false }).add(all);
  let current = matcher();
  for (const keep of [".dockerignore", posix.normalize(dockerfile)]) {
    if (current.ignores(keep)) {
      all.push(`!${keep}`);
      current = matcher();
    }
  }
  const ignores = current;
  const exceptions = all.filter((p) => p.startsWith("!")).map((p) => p.slice(1));
  return {
    excludes: (path) => path !== "" && path !== "." && ignores.ignores(path),
    // moby walks an excluded directory only when some exception pattern starts with "<dir>/".
    mustWalk: (dir) => exceptions.some((p) => `${p}/`.startsWith(`${dir}/`)),
  };
}

/** Go's filepath.Clean for a relative pattern, and a leading "/" dropped (patterns are context-relative). */
function cleanPattern(pattern: string): string {
  let cleaned = posix.normalize(pattern);
  if (cleaned.length > 1 && cleaned.endsWith("/")) cleaned = cleaned.slice(0, -1);
  if (cleaned.length > 1 && cleaned.startsWith("/")) cleaned = cleaned.slice(1);
  return cleaned;
}

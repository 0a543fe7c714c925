import { readFileSync, statSync } from "node:fs";
import { join, posix } from "node:path";
import { PreviewError } from "../errors.js";

/**
 * Which paths of a build context are sent, decided the way the docker CLI decides it: its ignore-file
 * reader (moby/patternmatcher `ignorefile.ReadAll`), `TrimBuildFilesFromExcludes`, and the pattern
 * matcher moby's `archive.TarWithOptions` walks the context with. Paths are relative to the context
 * root, with POSIX separators.
 */

/** One pattern of an ignore file, with the line it came from (for error messages). */
export interface IgnorePattern {
  readonly text: string;
  readonly line: number;
}

/** Go's unicode.IsSpace set, which strings.TrimSpace trims (JavaScript's trim() differs: U+0085, U+FEFF). */
const GO_SPACE = "\\t\\n\\v\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000";
const GO_TRIM = new RegExp(`^[${GO_SPACE}]+|[${GO_SPACE}]+$`, "gu");

export function goTrimSpace(text: string): string {
  return text.replace(GO_TRIM, "");
}

/** Go's filepath.Clean on Linux. */
export function goClean(path: string): string {
  if (path === "") return ".";
  const cleaned = posix.normalize(path);
  return cleaned.length > 1 && cleaned.endsWith("/") ? cleaned.slice(0, -1) : cleaned;
}

/** The patterns of an ignore file, line by line as the CLI's reader (bufio.Scanner lines, comments before trimming). */
export function parseDockerignore(text: string): IgnorePattern[] {
  const patterns: IgnorePattern[] = [];
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  for (const [index, raw] of lines.entries()) {
    let line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (index === 0) line = line.replace(/^\uFEFF/, "");
    // Only a "#" in the very first column starts a comment: " # x" is a pattern, as in the CLI.
    if (line.startsWith("#")) continue;
    let pattern = goTrimSpace(line);
    if (pattern === "") continue;
    const exception = pattern.startsWith("!");
    if (exception) pattern = goTrimSpace(pattern.slice(1));
    if (pattern.length > 0) {
      pattern = goClean(pattern);
      if (pattern.length > 1 && pattern.startsWith("/")) pattern = pattern.slice(1);
    }
    patterns.push({ text: exception ? `!${pattern}` : pattern, line: index + 1 });
  }
  return patterns;
}

/**
 * The ignore file that applies, read and checked. The classic builder's CLI reads `.dockerignore` only;
 * BuildKit first looks for one next to the Dockerfile named `<Dockerfile>.dockerignore`.
 */
export function readIgnoreFile(root: string, dockerfile: string, perDockerfile: boolean): IgnoreFile {
  const names = perDockerfile ? [`${dockerfile}.dockerignore`, ".dockerignore"] : [".dockerignore"];
  for (const name of names) {
    let text: string;
    try {
      // Only a regular file is read: a FIFO would block the read forever (the CLI hangs on one).
      const stats = statSync(join(root, name));
      if (!stats.isFile()) {
        const code = stats.isDirectory() ? "EISDIR" : "ENOTFILE";
        throw Object.assign(new Error(`${name} is not a regular file`), { code });
      }
      text = readFileSync(join(root, name), "utf8");
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") continue;
      throw new PreviewError("build", ignoreReadMessage(name, root, err as NodeJS.ErrnoException), {
        code: "DOCKER_CONTEXT",
        cause: err,
      });
    }
    return { name, patterns: parseDockerignore(text) };
  }
  return { patterns: [] };
}

export interface IgnoreFile {
  /** Context-relative name of the file read; none when the context has no ignore file. */
  readonly name?: string;
  readonly patterns: readonly IgnorePattern[];
}

function ignoreReadMessage(name: string, root: string, err: NodeJS.ErrnoException): string {
  if (err.code === "EISDIR")
    return `${name} in the build context ${root} is a directory; docker reads that name as the ignore file. Rename or remove the directory.`;
  if (err.code === "ENOTFILE")
    return `${name} in the build context ${root} is not a regular file (a FIFO or a device?); docker reads that name as the ignore file. Replace it with a file or remove it.`;
  if (err.code === "EACCES")
    return `${name} in the build context ${root} cannot be read (permission denied). Make it readable (chmod a+r ${name}).`;
  return `${name} in the build context ${root} cannot be read: ${err.message}.`;
}

/** A compiled pattern, matched like moby/patternmatcher's Pattern. */
interface Pattern {
  readonly exclusion: boolean;
  readonly text: string;
  readonly dirs: number;
  readonly test: (path: string) => boolean;
}

/** The parent directory's per-pattern results, handed down the walk (patternmatcher.MatchInfo). */
export type ParentMatches = readonly boolean[] | undefined;

export interface Matched {
  readonly excluded: boolean;
  readonly matches: readonly boolean[];
}

/** The CLI's pattern matcher over the patterns of one ignore file (plus the build files kept). */
export class ContextFilter {
  private readonly patterns: Pattern[];
  readonly hasExceptions: boolean;

  /** Throws a PreviewError naming `file` and the line for a pattern the CLI refuses. */
  constructor(patterns: readonly IgnorePattern[], file = ".dockerignore") {
    this.patterns = [];
    for (const p of patterns) {
      try {
        const compiled = compilePattern(p.text);
        if (compiled) this.patterns.push(compiled);
      } catch (err) {
        throw new PreviewError(
          "build",
          `${file} line ${p.line}: ${JSON.stringify(p.text)} is not a valid pattern (${(err as Error).message}), and docker refuses it too. Fix or remove that line.`,
          { code: "DOCKER_CONTEXT" },
        );
      }
    }
    this.hasExceptions = this.patterns.some((p) => p.exclusion);
  }

  /** patternmatcher.MatchesUsingParentResults: the walk's decision for `path`, given its parent's results. */
  match(path: string, parent: ParentMatches): Matched {
    const matches: boolean[] = [];
    let excluded = false;
    for (const [i, pattern] of this.patterns.entries()) {
      let match = parent?.[i] ?? false;
      if (!match) {
        if (pattern.exclusion !== excluded) {
          matches.push(false);
          continue;
        }
        match = pattern.test(path) || (parent === undefined && anyParentMatches(pattern, path));
      }
      matches.push(match);
      if (match) excluded = !pattern.exclusion;
    }
    return { excluded, matches };
  }

  /** The CLI's (deprecated) patternmatcher.Matches, which decides whether the build files are kept. */
  legacyMatches(file: string): boolean {
    const path = goClean(file);
    if (path === ".") return false;
    const parent = posix.dirname(path);
    const parentDirs = parent.split("/");
    let matched = false;
    for (const pattern of this.patterns) {
      if (pattern.exclusion !== matched) continue;
      let match = pattern.test(path);
      if (!match && parent !== "." && pattern.dirs <= parentDirs.length) {
        match = pattern.test(parentDirs.slice(0, pattern.dirs).join("/"));
      }
      if (match) matched = !pattern.exclusion;
    }
    return matched;
  }

  /** moby walks an excluded directory only when some exception pattern starts with "<dir>/". */
  mustWalk(dir: string): boolean {
    return this.patterns.some((p) => p.exclusion && `${p.text}/`.startsWith(`${dir}/`));
  }
}

function anyParentMatches(pattern: Pattern, path: string): boolean {
  const parent = posix.dirname(path);
  if (parent === ".") return false;
  const dirs = parent.split("/");
  for (let i = 1; i <= dirs.length; i++) if (pattern.test(dirs.slice(0, i).join("/"))) return true;
  return false;
}

/**
 * The filter for a context: the ignore file's patterns, plus `!` exceptions for the build files the
 * engine needs when a pattern would drop them (the CLI's TrimBuildFilesFromExcludes). `keep` lists them:
 * the classic builder needs the Dockerfile and `.dockerignore` (it removes both itself afterwards);
 * BuildKit's session needs none (the engine pulls the build files apart from the context).
 */
export function contextFilter(ignore: IgnoreFile, keep: readonly string[]): ContextFilter {
  const file = ignore.name ?? ".dockerignore";
  const patterns = [...ignore.patterns];
  for (const name of keep) {
    if (new ContextFilter(patterns, file).legacyMatches(name)) patterns.push({ text: `!${name}`, line: 0 });
  }
  return new ContextFilter(patterns, file);
}

/** patternmatcher.New for one pattern: checked as Go's filepath.Match checks it, compiled as its `compile`. */
function compilePattern(raw: string): Pattern | undefined {
  let text = goClean(goTrimSpace(raw));
  if (goTrimSpace(raw) === "") return undefined;
  const exclusion = text.startsWith("!");
  if (exclusion) {
    if (text.length === 1) throw new Error('a lone "!" excludes nothing');
    text = text.slice(1);
  }
  checkGoPattern(text);
  return { exclusion, text, dirs: text.split("/").length, test: patternTest(text) };
}

function patternTest(text: string): (path: string) => boolean {
  let re = "^";
  let kind: "exact" | "prefix" | "suffix" | "regexp" = "exact";
  const chars = [...text];
  let inClass = false;
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i] as string;
    if (ch === "*") {
      if (chars[i + 1] === "*") {
        const first = i === 0;
        i++;
        if (chars[i + 1] === "/") i++;
        if (i + 1 >= chars.length) {
          if (kind === "exact") kind = "prefix";
          else {
            re += ".*";
            kind = "regexp";
          }
        } else {
          re += "(.*/)?";
          kind = "regexp";
        }
        if (first) kind = "suffix";
      } else {
        re += "[^/]*";
        kind = "regexp";
      }
    } else if (ch === "?") {
      re += "[^/]";
      kind = "regexp";
    } else if (".+()|{}$".includes(ch)) {
      re += `\\${ch}`;
    } else if (ch === "\\") {
      if (i + 1 < chars.length) {
        re += escaped(chars[++i] as string, inClass);
        kind = "regexp";
      } else re += "\\\\";
    } else if (ch === "[" || ch === "]") {
      inClass = ch === "[";
      re += ch;
      kind = "regexp";
    } else {
      re += ch === "/" ? "\\/" : ch;
    }
  }
  if (kind === "exact") return (path) => path === text;
  if (kind === "prefix") return (path) => path.startsWith(text.slice(0, -2));
  if (kind === "suffix") {
    const suffix = text.slice(2);
    return (path) => path.endsWith(suffix) || (suffix.startsWith("/") && path === suffix.slice(1));
  }
  const compiled = new RegExp(`${re}$`, "u");
  return (path) => compiled.test(path);
}

/** `\c` in a pattern as Go's regexp reads it: letters keep their class meaning (\d), the rest is literal. */
function escaped(ch: string, inClass: boolean): string {
  if (/^[A-Za-z0-9]$/.test(ch) || (inClass && ch === "-")) return `\\${ch}`;
  return /^[\^$\\.*+?()[\]{}|/]$/.test(ch) ? `\\${ch}` : ch;
}

/** Go's filepath.Match syntax check (what patternmatcher.New runs): ErrBadPattern as an Error. */
function checkGoPattern(pattern: string): void {
  let rest = pattern;
  while (rest.length > 0) {
    while (rest.startsWith("*")) rest = rest.slice(1);
    let i = 0;
    let inRange = false;
    for (; i < rest.length; i++) {
      const c = rest[i];
      if (c === "\\" && i + 1 < rest.length) i++;
      else if (c === "[") inRange = true;
      else if (c === "]") inRange = false;
      else if (c === "*" && !inRange) break;
    }
    checkChunk(rest.slice(0, i));
    rest = rest.slice(i);
  }
}

function checkChunk(chunk: string): void {
  let c = chunk;
  while (c.length > 0) {
    if (c[0] === "[") {
      c = c.slice(1);
      if (c.startsWith("^")) c = c.slice(1);
      let ranges = 0;
      for (;;) {
        if (c.startsWith("]") && ranges > 0) {
          c = c.slice(1);
          break;
        }
        c = classChar(c);
        if (c.startsWith("-")) c = classChar(c.slice(1));
        ranges++;
      }
    } else if (c[0] === "\\") {
      if (c.length === 1) throw new Error("a trailing \\ escapes nothing");
      c = c.slice(2);
    } else c = c.slice(1);
  }
}

/** Go's getEsc: one (possibly escaped) character of a [class], which must be followed by more. */
function classChar(chunk: string): string {
  const bad = () => new Error(chunk.length === 0 ? "an unclosed [" : "a malformed [character class]");
  if (chunk.length === 0 || chunk[0] === "-" || chunk[0] === "]") throw bad();
  let c = chunk;
  if (c[0] === "\\") {
    c = c.slice(1);
    if (c.length === 0) throw bad();
  }
  const rest = c.slice(String.fromCodePoint(c.codePointAt(0) ?? 0).length);
  if (rest.length === 0) throw new Error("an unclosed [");
  return rest;
}

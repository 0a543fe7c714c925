import { readFileSync } from "node:fs";

/**
 * The one deliberate difference between the context ml-preview sends and the one `docker build` sends:
 * git's `http.<url>.extraheader` lines are left out of the repository's config files.
 *
 * actions/checkout (v2 to v5, with its default `persist-credentials: true`) keeps the job's token in
 * `.git/config` as `http.https://github.com/.extraheader = AUTHORIZATION: basic <base64 of
 * x-access-token:TOKEN>`, and in `.git/modules/<name>/config` for each submodule. The default context `.`
 * holds `.git`, so a Dockerfile's `COPY . .` would bake the token into the image. (v6 and later write the
 * header to a file under RUNNER_TEMP, outside the workspace, which `.git/config` only names in an
 * `includeIf.gitdir:<path>.path` key: no credential in the context, nothing to leave out.)
 *
 * The file is sent with those lines removed rather than left out: `git` inside the build (setuptools-scm,
 * `git describe`, `git rev-parse HEAD`) needs the rest of it — the repository format and its extensions
 * (sha256 objects, a partial clone's promisor remote), the remote's URL — and works as before, only
 * without the credential.
 */

/** A git config file: `config` (or `config.worktree`) inside a `.git` directory, at any depth. */
const GIT_CONFIG = /(?:^|\/)\.git\/(?:.+\/)?config(?:\.worktree)?$/;
/** Git config files are a few hundred bytes; a larger file by that name is no git config. */
const MAX_CONFIG = 1 << 20;
/**
 * A section header (its subsection quoted, which may hold "]"), and what follows it on the same line:
 * git allows `[http "https://github.com/"] extraheader = ...` too.
 */
const SECTION = /^(\s*\[(?:[^\]"]|"(?:[^"\\]|\\.)*")*\])(.*)$/s;
/** The variable `extraheader`, any case, with or without a value. */
const EXTRAHEADER = /^\s*extraheader\s*(?:[=;#]|$)/i;

/** A context file whose content must not be sent as it is on disk: what to send instead. */
export interface Rewritten {
  readonly content: Buffer;
}

/** Whether a context-relative POSIX path names a git config file. */
export function isGitConfig(rel: string): boolean {
  return GIT_CONFIG.test(rel);
}

/**
 * The content to send for the git config file at `path` (`size` bytes on disk), or undefined to send it
 * as it is: it holds no extraheader. Read once, at the walk: what is sent is what was checked.
 */
export function rewriteGitConfig(path: string, size: number): Rewritten | undefined {
  if (size === 0 || size > MAX_CONFIG) return undefined;
  let text: string;
  try {
    text = readFileSync(path, "latin1");
  } catch {
    // Unreadable: the walk's own check names it.
    return undefined;
  }
  if (!/extraheader/i.test(text)) return undefined;
  const stripped = withoutExtraHeaders(text);
  return stripped === text ? undefined : { content: Buffer.from(stripped, "latin1") };
}

/**
 * `text` (a git config file) without its `extraheader` variables: the line of each, and the lines its value
 * continues on (a line ending in an odd number of backslashes goes on). In any section: git reads the key
 * under `http` only, so nothing else changes. Line endings and every other byte stay as they are.
 */
export function withoutExtraHeaders(text: string): string {
  const out: string[] = [];
  let continued = false;
  for (const line of text.split(/(?<=\n)/)) {
    const body = line.replace(/\r?\n$/, "");
    if (continued) {
      continued = continues(body);
      continue;
    }
    const section = SECTION.exec(body);
    const rest = section ? (section[2] as string) : body;
    if (!EXTRAHEADER.test(rest)) {
      out.push(line);
      continue;
    }
    continued = continues(body);
    if (section) out.push(`${section[1] as string}${line.slice(body.length)}`);
  }
  return out.join("");
}

function continues(line: string): boolean {
  const backslashes = /\\*$/.exec(line)?.[0].length ?? 0;
  return backslashes % 2 === 1;
}

/** The log line for the git config files whose credential was left out (context-relative paths). */
export function credentialNote(paths: readonly string[]): string {
  const files = paths.length === 1 ? paths[0] : `${paths.length} git config files (${paths.join(", ")})`;
  return (
    `The build context's ${files} holds a git credential (an http.extraheader line, as actions/checkout ` +
    "writes it with persist-credentials: true): it is sent without that line, so the token cannot reach " +
    "the image; git inside the build works as before, without it. This is the one way the context differs " +
    "from docker build's. To keep the token out of the workspace too, set persist-credentials: false on actions/checkout."
  );
}

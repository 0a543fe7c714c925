import { existsSync, lstatSync, realpathSync, statSync } from "node:fs";
import { isAbsolute, posix, relative, resolve, sep } from "node:path";
import { ConfigError } from "../../errors.js";

function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel));
}

/**
 * The build context: a directory inside the workspace, after following symlinks, so a PR cannot point the
 * build (and its upload to the engine) at files elsewhere on the runner.
 */
export function context(workspace: string, raw: string): string {
  const root = realpathSync(workspace);
  const wanted = resolve(root, raw.trim() || ".");
  if (!inside(root, wanted)) {
    throw new ConfigError(
      "context",
      `context "${raw}" is outside the workspace ${root}. Give a folder inside the repository, relative to its root, e.g. "." or "examples/dash-tips".`,
    );
  }
  if (!existsSync(wanted) || !statSync(wanted).isDirectory()) {
    throw new ConfigError(
      "context",
      `context "${raw}" is not a folder in the workspace. Check the path (relative to the repository root) and that actions/checkout ran before this step.`,
      `CONTEXT "${raw}" is not a folder. Give the folder that holds your Dockerfile (default: this one).`,
    );
  }
  const real = realpathSync(wanted);
  if (!inside(root, real)) {
    throw new ConfigError(
      "context",
      `context "${raw}" is a symlink that leads outside the workspace (${real}). Point it at a real folder inside the repository.`,
    );
  }
  return real;
}

/** The Dockerfile, relative to the context, must stay inside the context (the engine only sees that tar). */
export function dockerfile(contextDir: string, raw: string): string {
  const text = defaultDockerfile(contextDir, raw.trim() || "Dockerfile");
  const wanted = resolve(contextDir, text);
  const real = existsSync(wanted) ? realpathSync(wanted) : wanted;
  if (!inside(contextDir, wanted) || !inside(contextDir, real)) {
    throw new ConfigError(
      "dockerfile",
      `dockerfile "${raw}" is outside the build context ${contextDir}. Give its path relative to the context, e.g. "Dockerfile" or "docker/app.Dockerfile".`,
      `--dockerfile ${raw} is outside CONTEXT (${contextDir}): the engine only sees that folder. Give a path inside it, or pass the folder that holds both as CONTEXT.`,
    );
  }
  if (!existsSync(wanted) || !statSync(real).isFile()) {
    throw new ConfigError(
      "dockerfile",
      `dockerfile "${raw}" was not found in ${contextDir}. Give its path relative to the context, or set "image" to run a prebuilt image instead.`,
      `No Dockerfile at ${wanted}. Add one (see "A Dockerfile for app.py" in the README), give --dockerfile PATH (relative to CONTEXT), or run a prebuilt image with --image REF.`,
    );
  }
  return relative(contextDir, real).split(sep).join("/");
}

/**
 * The default `Dockerfile`, or a lowercase `dockerfile` when only that one exists: docker build falls
 * back to it the same way when no file is named.
 */
function defaultDockerfile(contextDir: string, name: string): string {
  if (name !== "Dockerfile" || lexists(resolve(contextDir, name))) return name;
  return lexists(resolve(contextDir, "dockerfile")) ? "dockerfile" : name;
}

function lexists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * What is wrong with a cache-dirs entry, with the fix, or undefined when it is fine. The caller names
 * its own input (`cache-dirs` or `--cache-dir`).
 */
export function cacheDirProblem(path: string): string | undefined {
  if (!path.startsWith("/"))
    return `"${path}" is not an absolute container path; write it from / (e.g. /root/.cache/huggingface).`;
  if (posix.normalize(path) === "/")
    return `"/" would cache the whole container; name the directory the app downloads into.`;
  const trimmed = path.replace(/\/+$/, "");
  if (posix.normalize(trimmed) !== trimmed)
    return `"${path}" is not a plain path; write it without ., .. or repeated slashes.`;
  if (path.includes(",") || /[\s]/.test(path))
    return `"${path}" contains a comma or whitespace, which Docker's mount syntax cannot carry; rename the directory.`;
  return undefined;
}

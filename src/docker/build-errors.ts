import { PreviewError } from "../errors.js";
import type { BuildStep } from "./build-progress.js";
import { engineAddress, engineAway, engineMessage } from "./docker-errors.js";
import { pullError } from "./pull-errors.js";

/** Lines of the failing step's output that travel with the error (the PR comment shows them). */
const SHOWN_LINES = 30;

export interface BuildFailure {
  readonly message: string;
  readonly step?: BuildStep;
  readonly dockerfile: string;
  readonly withCredentials: boolean;
  /** The ids of the build's secrets (`build-secrets`), to name one a failing step mounts but was not given. */
  readonly secretIds?: readonly string[];
}

/**
 * A failed build as the user should read it: which Dockerfile step failed and its last output lines;
 * for a base image that cannot be pulled, which registry and what to do about it.
 */
export function buildError(failure: BuildFailure): PreviewError {
  const { message, step } = failure;
  const base = baseImageOf(step, message);
  const where = step ? `at ${step.label}` : base ? `at FROM ${base}` : `(${failure.dockerfile})`;
  if (base) {
    const pulled = pullError(message, {
      step: "build",
      ref: base,
      withCredentials: failure.withCredentials,
      role: "base image",
      prefix: `The build failed ${where}:`,
    });
    if (pulled) return pulled;
  }
  const logLines = step?.output.slice(-SHOWN_LINES) ?? [];
  const next = logLines.length > 0 ? " Its last output lines are below; fix that step and push again." : "";
  const secrets = missingSecrets(failure);
  return new PreviewError("build", `The build failed ${where}: ${message.trim()}.${secrets}${next}`, {
    code: "DOCKER_BUILD_FAILED",
    logLines,
  });
}

/**
 * The secrets the failing step mounts (`--mount=type=secret,id=…`) or BuildKit says it could not find
 * ("secret <id> not found", a `required=true` mount) that the build was not given, as advice. BuildKit
 * leaves an optional mount of a missing secret out, so the step's own error (a missing file) is what shows.
 */
function missingSecrets(failure: BuildFailure): string {
  const given = new Set(failure.secretIds ?? []);
  const asked = new Set<string>();
  for (const mount of (failure.step?.instruction ?? "").matchAll(/--mount=(\S+)/g)) {
    const fields = (mount[1] as string).split(",");
    if (!fields.includes("type=secret")) continue;
    const id = fields.find((f) => f.startsWith("id="))?.slice(3);
    if (id) asked.add(id);
  }
  for (const named of failure.message.matchAll(/secret (\S+) not found/g)) asked.add(named[1] as string);
  const missing = [...asked].filter((id) => !given.has(id));
  if (missing.length === 0) return "";
  const list = missing.join(", ");
  return ` The step mounts the build secret ${list}, which this build was not given: add ${missing.map((id) => `\`${id}=…\``).join(", ")} to the \`build-secrets\` input (CLI: \`--build-secret id=${missing[0]}\`).`;
}

/** The image a failure is about: the FROM of the failing step, or the one BuildKit names in its message. */
function baseImageOf(step: BuildStep | undefined, message: string): string | undefined {
  const from = /^FROM\s+(?:--platform=\S+\s+)?(\S+)/i.exec(step?.instruction ?? "");
  if (from?.[1]) return from[1];
  const meta =
    /(?:metadata for|resolve source metadata for|resolve image config for)\s+(\S+?):?\s*$|docker-image:\/\/(\S+)/m.exec(
      message,
    );
  const named = meta?.[1] ?? meta?.[2];
  if (named) return shortHubName(named);
  // BuildKit's "failed to do request: Head https://host/v2/<repo>/manifests/<tag>" names it in the URL.
  const url = /https?:\/\/([^/"\s]+)\/v2\/(.+?)\/manifests\/([^"\s]+)/.exec(message);
  if (url) return shortHubName(`${url[1]}/${url[2]}:${url[3]}`);
  return undefined;
}

/** `registry-1.docker.io/library/python:3.12` → `python:3.12`, as people write it in a FROM line. */
function shortHubName(ref: string): string {
  return ref.replace(/^(?:registry-1\.|index\.)?docker\.io\/(?:library\/(?=[^/]+$))?/, "");
}

/** The engine refused the build request itself, or the request broke off. */
export function requestError(
  err: unknown,
  dockerfile: string,
  aborted: boolean,
  contextFailure?: Error,
): PreviewError {
  if (err instanceof PreviewError) return err;
  if (aborted)
    return new PreviewError("build", "The build was cancelled.", { code: "CANCELLED", cause: err });
  if (contextFailure) return contextError(contextFailure);
  if (engineAway(err))
    return new PreviewError(
      "build",
      `The Docker engine went away during the build of ${dockerfile} (${engineMessage(err)}): the build did not fail, the engine stopped answering at ${engineAddress()}. Check that the engine is running and run the preview again.`,
      { code: "DOCKER_UNREACHABLE", cause: err },
    );
  return new PreviewError(
    "build",
    `The Docker engine rejected the build of ${dockerfile}: ${engineMessage(err)}. Check the Dockerfile and the build-args/target inputs.`,
    { code: "DOCKER_BUILD_FAILED", cause: err },
  );
}

/** A file of the context could not be read while it was being sent. */
export function contextError(err: Error): PreviewError {
  if (err instanceof PreviewError) return err;
  return new PreviewError(
    "build",
    `Could not read the build context: ${err.message}. Make the file readable, or list it in .dockerignore.`,
    { code: "DOCKER_CONTEXT", cause: err },
  );
}

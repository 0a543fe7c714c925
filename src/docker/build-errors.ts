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
  return new PreviewError("build", `The build failed ${where}: ${message.trim()}.${next}`, {
    code: "DOCKER_BUILD_FAILED",
    logLines,
  });
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

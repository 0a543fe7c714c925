import { PreviewError } from "../errors.js";

/**
 * Which of the engine's builders runs a build through the API.
 *
 * - classic builder (`version: "1"`): the context as a tar in the request body (context.ts), credentials via
 *   X-Registry-Config, cache-from for the registry cache, plain "Step i/n : ..." events, errors as
 *   `errorDetail` with the command's exit code. The default.
 * - BuildKit (`version: "2"`), used only when the Dockerfile needs a feature the classic builder rejects
 *   (`RUN --mount`, heredocs, `COPY --link`/`--chmod`, `$TARGETARCH`...). It runs as the docker CLI runs it,
 *   over a session (build-session.ts): the engine pulls the Dockerfile and the context through it, applying
 *   the ignore file itself, and asks it for registry credentials. The session serves grpc.health.v1.Health,
 *   which dockerode's does not: without it the engine drops a session about 1 s in (apocas/dockerode#845,
 *   measured on dockerd 20.10.24) and anything that needs it later stalls on "no active session". A BuildKit
 *   build without a session (a tar body) leaves the engine reading the Dockerfile and the context from the
 *   tar, where it never applies .dockerignore to them: the Dockerfile would land in the image.
 * `cache: gha` builds with `docker buildx` (BuildKit with its own session) instead.
 * Build secrets (`build-secrets`) need BuildKit too: only its session serves them to `RUN --mount=type=secret`.
 */
export type Builder = "classic" | "buildkit";

const BUILDKIT_ONLY: readonly RegExp[] = [
  /^\s*RUN\s+(?:--\S+\s+)*--(?:mount|network|security)[=\s]/im,
  /^\s*(?:COPY|ADD)\s+(?:--\S+\s+)*--(?:link|chmod|parents|exclude|checksum|keep-git-dir)\b/im,
  /^\s*(?:RUN|COPY|ADD)\b[^\n]*<<-?\s*["']?[A-Za-z_][\w-]*["']?/im,
  /\$\{?(?:BUILDPLATFORM|TARGETPLATFORM|TARGETOS|TARGETARCH|TARGETVARIANT|BUILDOS|BUILDARCH)\b/,
];

/** The builder a Dockerfile needs: classic unless it uses BuildKit-only syntax. */
export function chooseBuilder(dockerfileText: string): Builder {
  const instructions = dockerfileText.replace(/\\\r?\n/g, " ");
  return BUILDKIT_ONLY.some((re) => re.test(instructions)) ? "buildkit" : "classic";
}

/**
 * The builder for a build: the one asked for, else BuildKit when it has secrets to mount, else what the
 * Dockerfile needs. The classic builder asked for with secrets is an error: it has no way to mount them.
 */
export function builderFor(
  req: { readonly builder?: Builder; readonly secrets?: Readonly<Record<string, string>> },
  dockerfileText: string,
): Builder {
  const secrets = Object.keys(req.secrets ?? {}).length > 0;
  if (req.builder === "classic" && secrets) {
    throw new PreviewError(
      "build",
      "build-secrets need BuildKit, but this build asked for the classic builder, which cannot mount secrets (RUN --mount=type=secret is BuildKit's). Build with BuildKit, or drop build-secrets.",
      { code: "DOCKER_BUILD_FAILED" },
    );
  }
  return req.builder ?? (secrets ? "buildkit" : chooseBuilder(dockerfileText));
}

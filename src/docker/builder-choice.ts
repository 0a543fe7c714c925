/**
 * Which of the engine's builders runs a build through the API.
 *
 * Measured on dockerd 20.10.24 (this repo's CI engine), FROM scratch + busybox, a `RUN sleep 32` step:
 * - classic builder (`version: "1"`): completes in ~33 s; plain "Step i/n : ..." events, errors as
 *   `errorDetail` with the command's exit code.
 * - BuildKit through dockerode (`version: "2"`, which opens a /session): completes in ~34 s *here*, but the
 *   engine log shows the session's gRPC channel SHUT DOWN about 1 s after the start: dockerode serves no
 *   grpc.health.v1.Health, so the engine's health check drops it (newer engines after two failed checks,
 *   ~10 s: apocas/dockerode#845). Anything that needs the session later — registry credentials or the
 *   metadata of a base image a later stage pulls — then waits on "no active session" and the build stalls.
 *   It only completed because a FROM-scratch build never needs the session after its first second.
 * - BuildKit without a session (the same API call with no `session` parameter): also completes in ~34 s;
 *   there is no session to drop, but there is also no way to hand BuildKit registry credentials.
 * So the classic builder is the default: no session, credentials via X-Registry-Config, cache-from for
 * the registry cache, readable events. BuildKit (without a session, over a `Connection: close` request;
 * docker-modem#196 reports keep-alive hangs) is used only when the Dockerfile needs a feature the classic
 * builder rejects (`RUN --mount`, heredocs, `COPY --link`/`--chmod`, `$TARGETARCH`...). `cache: gha`
 * builds with `docker buildx` (BuildKit with its own, healthy session) instead.
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

import Docker from "dockerode";
import { PreviewError, type PreviewStep } from "../errors.js";

/**
 * The Docker engine named by the environment, as the docker CLI reads it. docker-modem does the work:
 * - DOCKER_HOST unset: /var/run/docker.sock (or ~/.docker/run/docker.sock when that exists);
 *   `unix:///path` and `npipe://` name a socket.
 * - `tcp://host:port`: plain HTTP, or HTTPS when DOCKER_TLS_VERIFY is set or the port is 2376; with
 *   DOCKER_CERT_PATH the client presents cert.pem/key.pem and verifies the engine against ca.pem.
 *   (docker-modem only honours DOCKER_TLS_VERIFY=1; the docker CLI takes any non-empty value, so
 *   tlsOptionsFromEnv normalises that. Unlike the CLI, docker-modem does not fall back to ~/.docker
 *   when DOCKER_CERT_PATH is unset: set it.)
 * - `ssh://user@host[:port]`: runs `docker system dial-stdio` on the host over ssh2, authenticating
 *   with the ssh-agent at SSH_AUTH_SOCK only (no key files, no ~/.ssh/config, host key not pinned).
 * DOCKER_CONTEXT and ~/.docker/config.json contexts are not read. With a remote engine the app's port is
 * published on *that* host's 127.0.0.1, so the tunnel must run there too (or be reached via an ssh -L).
 * A DOCKER_HOST that cannot be used fails as `step`, the step that first needs the engine: the same step an
 * engine that does not answer there fails as (see dockerRuntime's connect).
 */
export function dockerClient(step: PreviewStep = "build"): Docker {
  try {
    return new Docker(tlsOptionsFromEnv(process.env));
  } catch (err) {
    // e.g. a DOCKER_CERT_PATH without ca.pem; DOCKER_HOST is shown without any user:password part.
    const host = (process.env.DOCKER_HOST ?? "").replace(/\/\/[^@/]*@/, "//");
    throw new PreviewError(
      step,
      `Cannot reach the Docker engine named by DOCKER_HOST=${host}: ${(err as Error).message}. ` +
        "Check DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH (a folder with ca.pem, cert.pem and key.pem).",
      { code: "DOCKER_CLIENT", cause: err },
    );
  }
}

/** Overrides for docker-modem's own env handling where it differs from the docker CLI. */
export function tlsOptionsFromEnv(env: NodeJS.ProcessEnv): Docker.DockerOptions {
  const host = env.DOCKER_HOST ?? "";
  const isTcp = host.startsWith("tcp://") || (host !== "" && !host.includes("://"));
  const verify = env.DOCKER_TLS_VERIFY ?? "";
  return isTcp && verify !== "" ? { protocol: "https" } : {};
}

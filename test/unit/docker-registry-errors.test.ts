import { describe, expect, it } from "vitest";
import { engineMessage } from "../../src/docker/docker-errors.js";
import { pullError } from "../../src/docker/pull-errors.js";
import { hostInMessage, registryProblem, shortCause } from "../../src/docker/registry-errors.js";

// What dockerd 20.10 answered here for each case (POST /images/create).
const OFFLINE_HUB =
  'Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io on 10.255.255.53:53: no such host';
const REFUSED = 'Get "http://127.0.0.1:5598/v2/": dial tcp 127.0.0.1:5598: connect: connection refused';
const NO_CREDS = 'Head "http://127.0.0.1:5599/v2/nope/manifests/1": no basic auth credentials';
const BAD_CREDS = "unauthorized: authentication required";
const MISSING = "manifest for 127.0.0.1:5599/nope:1 not found: manifest unknown: manifest unknown";

describe("registryProblem", () => {
  it("classifies the engine's registry errors", () => {
    expect(registryProblem(OFFLINE_HUB)).toBe("unreachable");
    expect(registryProblem(REFUSED)).toBe("unreachable");
    expect(registryProblem("net/http: TLS handshake timeout")).toBe("unreachable");
    expect(registryProblem(NO_CREDS)).toBe("unauthorized");
    expect(registryProblem(BAD_CREDS)).toBe("unauthorized");
    expect(registryProblem(MISSING)).toBe("not-found");
    expect(registryProblem("no space left on device")).toBe("other");
  });

  it("finds the host and the short cause in a Go error chain", () => {
    expect(hostInMessage(OFFLINE_HUB)).toBe("registry-1.docker.io");
    expect(hostInMessage("dial tcp 10.1.2.3:443: i/o timeout")).toBe("10.1.2.3:443");
    expect(shortCause(OFFLINE_HUB)).toBe("no such host");
    expect(shortCause(REFUSED)).toBe("connection refused");
  });

  it("takes the daemon's words out of a docker-modem error", () => {
    expect(engineMessage(new Error(`(HTTP code 500) server error - ${OFFLINE_HUB} `))).toBe(OFFLINE_HUB);
    expect(engineMessage({ json: { message: "x" } })).toBe("x");
  });
});

describe("pullError", () => {
  const ctx = {
    step: "pull" as const,
    ref: "python:3.12-slim",
    withCredentials: false,
    role: "image" as const,
  };

  it("names the unreachable registry and what to do", () => {
    const err = pullError(OFFLINE_HUB, ctx);
    expect(err?.code).toBe("DOCKER_REGISTRY_UNREACHABLE");
    expect(err?.message).toBe(
      "Cannot pull the image python:3.12-slim: the registry registry-1.docker.io (Docker Hub) is unreachable from the Docker engine " +
        "(no such host). Let the runner reach registry-1.docker.io (network, proxy, firewall); or pull python:3.12-slim into the " +
        "engine before this step; or use an image from a registry the runner can reach.",
    );
  });

  it("names an auth host the engine could not reach instead of the registry", () => {
    const err = pullError('Get "https://auth.docker.io/token?scope=x": dial tcp: i/o timeout', ctx);
    expect(err?.message).toContain("the registry auth.docker.io is unreachable");
  });

  it("tells refused credentials from missing ones", () => {
    const ref = "127.0.0.1:5599/nope:1";
    expect(pullError(BAD_CREDS, { ...ctx, ref, withCredentials: true })?.message).toBe(
      "127.0.0.1:5599 refused the credentials for 127.0.0.1:5599/nope:1 (authentication required). " +
        "Check registry-username and registry-password (a token needs read access to the package).",
    );
    expect(pullError(NO_CREDS, { ...ctx, ref })?.message).toBe(
      "127.0.0.1:5599 requires credentials for 127.0.0.1:5599/nope:1. Set registry-username and registry-password.",
    );
  });

  it("leaves errors that are not about a registry to the caller", () => {
    expect(pullError("no space left on device", ctx)).toBeUndefined();
  });
});

import { describe, expect, it } from "vitest";
import { isImageReference } from "../../src/config/check/image.js";
import { previewTag, registryOf, splitRef } from "../../src/docker/image-ref.js";
import type { PreviewLabels } from "../../src/docker/types.js";

const labels = (repo: string, pr: string, name: string): PreviewLabels => ({
  "ml-preview.repo": repo,
  "ml-preview.pr": pr,
  "ml-preview.run": "1.1",
  "ml-preview.name": name,
});

describe("registryOf", () => {
  it("follows Docker's rule: a first component with '.', ':' or localhost is a registry host", () => {
    expect(registryOf("python:3.12-slim").display).toBe("registry-1.docker.io (Docker Hub)");
    expect(registryOf("octo/app").host).toBe("registry-1.docker.io");
    expect(registryOf("docker.io/library/python").authServer).toBe("https://index.docker.io/v1/");
    expect(registryOf("ghcr.io/octo/app:1")).toEqual({
      host: "ghcr.io",
      display: "ghcr.io",
      authServer: "ghcr.io",
    });
    expect(registryOf("127.0.0.1:5000/app").host).toBe("127.0.0.1:5000");
    expect(registryOf("localhost/app").host).toBe("localhost");
  });
});

describe("splitRef", () => {
  it("separates the tag from a port and drops a digest", () => {
    expect(splitRef("127.0.0.1:5000/cache/app:preview-cache")).toEqual({
      repository: "127.0.0.1:5000/cache/app",
      tag: "preview-cache",
    });
    expect(splitRef("127.0.0.1:5000/cache/app")).toEqual({
      repository: "127.0.0.1:5000/cache/app",
      tag: "latest",
    });
    expect(splitRef(`app:1@sha256:${"a".repeat(64)}`)).toEqual({ repository: "app", tag: "1" });
  });
});

describe("previewTag", () => {
  it("is ml-preview/<owner>-<repo>-<name>:pr-<n>, lowercased and made valid", () => {
    expect(previewTag(labels("Octo/My_App", "42", "Web UI"))).toBe("ml-preview/octo-my_app-web-ui:pr-42");
    expect(previewTag(labels("octo/app", "", "app"))).toBe("ml-preview/octo-app-app:local");
    expect(isImageReference(previewTag(labels("--Weird..Repo--/x", "7", "..")))).toBe(true);
  });
});

describe("isImageReference", () => {
  it("accepts what the engine accepts and rejects the rest before it reaches an HTTP path", () => {
    for (const ok of [
      "python",
      "python:3.12-slim",
      "ghcr.io/octo/app:1.0",
      "127.0.0.1:5000/a/b",
      `a@sha256:${"f".repeat(64)}`,
    ]) {
      expect(isImageReference(ok), ok).toBe(true);
    }
    for (const bad of ["Not/A Valid:Ref", "UPPER/case", "app:", "app:-tag", "", "a//b"]) {
      expect(isImageReference(bad), bad).toBe(false);
    }
  });
});

import { describe, expect, it } from "vitest";
import { registryOf } from "../../src/docker/image-ref.js";
import { repositoryOf } from "../../src/docker/registry-size.js";

describe("repositoryOf", () => {
  it.each([
    ["busybox", "library/busybox"],
    ["busybox:1.36", "library/busybox"],
    ["docker.io/library/python:3.12-slim", "library/python"],
    ["pytorch/pytorch:2.3.0-cuda12.1-cudnn8-runtime", "pytorch/pytorch"],
    ["ghcr.io/acme/models/app:1", "acme/models/app"],
    ["127.0.0.1:5000/private/app@sha256:" + "a".repeat(64), "private/app"],
    ["localhost:5000/app:2", "app"],
  ])("%s is %s on its registry", (ref, repository) => {
    expect(repositoryOf(ref, registryOf(ref).host)).toBe(repository);
  });
});

import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Docker from "dockerode";
import { afterEach, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/parse.js";
import { dockerRuntime } from "../../src/docker/runtime.js";
import { runPreview } from "../../src/lifecycle/preview.js";
import type { PreviewEvent } from "../../src/lifecycle/types.js";
import type { Logger } from "../../src/log.js";

const quiet: Logger = { info: () => {}, warning: () => {}, debug: () => {}, group: (_t, fn) => fn() };

/** A preview against an engine socket nobody listens on: what step does the failure name? */
async function failedWithoutEngine(inputs: Record<string, string>, engine: "socket" | "env" = "socket") {
  const workspace = mkdtempSync(join(tmpdir(), "ml-preview-no-engine-"));
  writeFileSync(join(workspace, "Dockerfile"), "FROM scratch\n");
  const config = parseConfig({ tunnel: "none", ...inputs }, { workspace });
  const socketPath = join(workspace, "no-engine.sock");
  const events: PreviewEvent[] = [];
  const result = await runPreview(config, {
    runtime: dockerRuntime(config, {
      docker: engine === "socket" ? new Docker({ socketPath }) : undefined,
      log: quiet,
      labels: {
        "ml-preview.repo": "octo/app",
        "ml-preview.pr": "1",
        "ml-preview.name": "app",
        "ml-preview.run": "1",
      },
    }),
    log: quiet,
    reporters: [{ name: "record", report: async (e) => void events.push(e) }],
    signal: new AbortController().signal,
    metadata: { repo: "octo/app", name: "app" },
    pollIntervalMs: 1000,
    cleanupPatienceMs: 0,
  });
  return { result, failed: events.find((e) => e.event === "failed") };
}

describe("an engine that does not answer", () => {
  it("fails at pull for an image, the step the engine was first needed for", async () => {
    const { result, failed } = await failedWithoutEngine({ image: "busybox:1.36" });
    expect(result).toMatchObject({ state: "failed", details: { step: "pull" } });
    expect(failed?.details).toMatchObject({
      step: "pull",
      error: expect.stringMatching(/does not answer at/),
    });
  });

  it("fails at build for a Dockerfile", async () => {
    const { failed } = await failedWithoutEngine({});
    expect(failed?.details).toMatchObject({
      step: "build",
      error: expect.stringMatching(/does not answer at/),
    });
  });
});

describe("a DOCKER_HOST that cannot be used fails as the same step as an engine that does not answer", () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const key of ["DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"]) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
  });
  const unusableHost = () => {
    process.env.DOCKER_HOST = "tcp://gpu-box:2376";
    process.env.DOCKER_TLS_VERIFY = "1";
    process.env.DOCKER_CERT_PATH = mkdtempSync(join(tmpdir(), "ml-preview-nocerts-")); // no ca.pem
  };

  it("pull for an image", async () => {
    unusableHost();
    const { result, failed } = await failedWithoutEngine({ image: "busybox:1.36" }, "env");
    expect(result.state).toBe("failed");
    expect(failed?.details).toMatchObject({
      step: "pull",
      error: expect.stringMatching(/DOCKER_HOST=tcp:\/\/gpu-box/),
    });
  });

  it("build for a Dockerfile", async () => {
    unusableHost();
    const { failed } = await failedWithoutEngine({}, "env");
    expect(failed?.details).toMatchObject({
      step: "build",
      error: expect.stringMatching(/DOCKER_CERT_PATH/),
    });
  });
});

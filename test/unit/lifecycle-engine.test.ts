import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Docker from "dockerode";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/index.js";
import { runPreview } from "../../src/lifecycle/preview.js";
import type { PreviewEvent } from "../../src/lifecycle/types.js";
import type { Logger } from "../../src/log.js";

const quiet: Logger = { info: () => {}, warning: () => {}, debug: () => {}, group: (_t, fn) => fn() };

/** A preview against an engine socket nobody listens on: what step does the failure name? */
async function failedWithoutEngine(inputs: Record<string, string>) {
  const workspace = mkdtempSync(join(tmpdir(), "ml-preview-no-engine-"));
  writeFileSync(join(workspace, "Dockerfile"), "FROM scratch\n");
  const config = parseConfig({ tunnel: "none", ...inputs }, { workspace });
  const socketPath = join(workspace, "no-engine.sock");
  const events: PreviewEvent[] = [];
  const result = await runPreview(config, {
    docker: new Docker({ socketPath }),
    log: quiet,
    reporters: [{ name: "record", report: async (e) => void events.push(e) }],
    signal: new AbortController().signal,
    labels: {
      "ml-preview.repo": "octo/app",
      "ml-preview.pr": "1",
      "ml-preview.name": "app",
      "ml-preview.run": "1",
    },
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

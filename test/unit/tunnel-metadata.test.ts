import { hostname } from "node:os";
import { expect, test } from "vitest";
import { silentLogger } from "../../src/log.js";
import { forwardsTo, metadataJson } from "../../src/tunnel/ngrok.js";
import { openTunnel } from "../../src/tunnel/open.js";

test("forwards_to names the preview, not the runner", () => {
  expect(forwardsTo({ name: "demo" })).toBe("ml-preview:demo");
  expect(forwardsTo({ name: "demo" })).not.toContain(hostname());
});

test("metadata names repo, PR and run, leaving out what is unknown", () => {
  expect(JSON.parse(metadataJson({ name: "app", repo: "o/r", pr: 7, run: "11.1" }))).toEqual({
    tool: "ml-preview",
    name: "app",
    repo: "o/r",
    pr: 7,
    run: "11.1",
  });
  expect(JSON.parse(metadataJson({ name: "app" }))).toEqual({ tool: "ml-preview", name: "app" });
});

test("tunnel none: no URL, onLost never fires, close is a no-op", async () => {
  const tunnel = await openTunnel({ provider: "none" }, { port: 8501 }, { name: "app" }, silentLogger);
  expect(tunnel.url).toBeUndefined();
  tunnel.onLost(() => {
    throw new Error("must not fire");
  });
  await expect(tunnel.close()).resolves.toBeUndefined();
});

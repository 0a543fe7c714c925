import { describe, expect, it } from "vitest";
import type { HumanOptions } from "../../src/cli/reporters.js";
import { humanReporter, jsonReporter } from "../../src/cli/reporters.js";
import type { PreviewEvent } from "../../src/lifecycle/types.js";

async function human(e: PreviewEvent, opts: HumanOptions = {}): Promise<{ out: string; err: string }> {
  let out = "";
  let err = "";
  await humanReporter(
    (t) => (out += t),
    (t) => (err += t),
    { ansi: false },
    opts,
  ).report(e);
  return { out, err };
}

async function json(e: PreviewEvent, opts: HumanOptions = {}): Promise<Record<string, unknown>> {
  let line = "";
  await jsonReporter((t) => (line += t), opts).report(e);
  return JSON.parse(line);
}

const tokenRefused: PreviewEvent = {
  event: "failed",
  details: { step: "tunnel", error: "ngrok rejected the authtoken: it was reset or revoked." },
};

describe("CLI reporters", () => {
  it("JSON `live` always has url (null without a tunnel) and localUrl, right after the event", async () => {
    const line = await json({ event: "live", details: { localUrl: "http://127.0.0.1:5000" } });
    expect(Object.keys(line).slice(0, 3)).toEqual(["event", "url", "localUrl"]);
    expect(line).toMatchObject({ url: null, localUrl: "http://127.0.0.1:5000" });
    expect(await json({ event: "ready", details: { localUrl: "http://127.0.0.1:5000" } })).not.toHaveProperty(
      "url",
    );
  });

  it("with --tunnel none, ready opens no tunnel; --detach says how to end it, not Ctrl-C", async () => {
    const ready = { event: "ready" as const, details: { localUrl: "http://127.0.0.1:5000" } };
    expect((await human(ready, { tunnel: false })).err).toBe("The app answers at http://127.0.0.1:5000.\n");
    expect((await human(ready)).err).toContain("opening the tunnel…");
    const live = {
      event: "live" as const,
      details: { localUrl: "http://127.0.0.1:5000", expiresAt: new Date() },
    };
    expect((await human(live)).out).toContain("(Ctrl-C stops it sooner)");
    const detached = (await human(live, { detachedName: "app" })).out;
    expect(detached).toContain("(`ml-preview down app` ends it sooner)");
    expect(detached).not.toContain("Ctrl-C");
  });

  it("a refused ngrok token: `up` suggests --tunnel none, `share` (nothing to share without it) does not", async () => {
    expect((await human(tokenRefused, { command: "up" })).err).toContain("--tunnel none (a local URL only)");
    expect((await json(tokenRefused, { command: "up" })).error).toContain("--tunnel none");
    expect((await human(tokenRefused, { command: "share" })).err).not.toContain("--tunnel none");
    const other = {
      event: "failed" as const,
      details: { step: "ready", error: "no authtoken here, just ready" },
    };
    expect((await human(other, { command: "up" })).err).not.toContain("--tunnel none");
  });

  it("after a clean-up warning the last line does not say 'Cleaned up.'", async () => {
    const stopped = { event: "stopped" as const, details: { reason: "stopped by SIGINT" } };
    expect((await human(stopped, { cleanedUp: () => true })).err).toBe(
      "Preview stopped (stopped by SIGINT). Cleaned up.\n",
    );
    const failed = (await human(stopped, { cleanedUp: () => false })).err;
    expect(failed).toBe(
      "Preview stopped (stopped by SIGINT). Clean-up was not complete (see the warning above).\n",
    );
    expect((await human({ event: "expired", details: {} }, { cleanedUp: () => false })).err).not.toContain(
      "Cleaned up",
    );
  });
});

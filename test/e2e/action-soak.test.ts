import { describe, expect, it } from "vitest";
import { type PreviewWorld, previewHooks, waitFor } from "../support/preview-fixture.js";
import { type ProcessSample, processSample } from "../support/process-sample.js";

// A soak of the bundled action: a live preview polled fast for a long while, its sockets looked at from
// /proc. A file of its own, so that on a busy machine its minutes run beside the other files, not before
// the rest of action-faults.
const { newWorld } = previewHooks();
let world: PreviewWorld;

describe("a long preview with a tunnel and fast polls", () => {
  it("holds its open sockets flat: nothing piles up in CLOSE-WAIT poll after poll", {
    timeout: 480_000,
  }, async () => {
    world = await newWorld();
    const run = world.job({ duration: "10m" }, { env: { ML_PREVIEW_POLL_INTERVAL: "200ms" } });
    const main = run.job.startMain();
    await waitFor("live", world.commentStateIs("live"));
    const pid = main.child.pid!;
    const polls = () =>
      world.github.requests.filter((r) => r.method === "GET" && /\/pulls\/\d+$/.test(r.path)).length;
    const settle = polls() + 5;
    await waitFor("a few polls", () => polls() >= settle);
    const before = processSample(pid);
    const until = polls() + 150;
    await waitFor("150 more polls (each GETs the public link and the app)", () => polls() >= until, 420_000);
    // A poll may be closing its sockets at the moment of a look: the least of three looks a few polls
    // apart. A leak holds on: the link check through fetch's pool left 3 after 150 polls here (46 in
    // 10 min against ngrok's edge), growing with every few dozen polls.
    const looks: ProcessSample[] = [];
    for (let i = 0; i < 3; i++) {
      const next = polls() + 3;
      await waitFor("3 more polls", () => polls() >= next);
      looks.push(processSample(pid));
    }
    const closeWait = Math.min(...looks.map((l) => l.closeWait));
    const open = Math.min(...looks.map((l) => l.tcp));
    expect(closeWait, `sockets in CLOSE-WAIT: ${JSON.stringify(looks)}`).toBeLessThanOrEqual(2);
    expect(open).toBeLessThanOrEqual(before.tcp + 2);
    expect((await run.job.cancel(main)).outputs.status).toBe("stopped");
  });
});

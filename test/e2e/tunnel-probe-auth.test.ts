import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type NgrokEdge, startNgrokEdge } from "../support/ngrok-edge/index.js";
import { fetchText } from "../support/preview-fixture.js";
import { ACTION_DIR } from "../support/runner.js";

// The tool's own requests through the public URL (the check before "live", the link check on every poll)
// must never hand the basic-auth password to the app: ngrok passes a request that carries it on to the app
// with its Authorization header, and the app is the pull request's code. The loopback edge enforces
// basic auth like ngrok does, and forwards what passes it unchanged.
const PASSWORD = "probe-s3cret-Pa55";
let edge: NgrokEdge;
let app: Server;
/** Every request the app got: its Authorization header and who sent it. */
const seen: { authorization?: string; userAgent?: string }[] = [];

beforeAll(async () => {
  edge = await startNgrokEdge();
  app = createServer((req, res) => {
    seen.push({ authorization: req.headers.authorization, userAgent: req.headers["user-agent"] });
    res.end("the app");
  });
  await new Promise<void>((resolve) => app.listen(0, "127.0.0.1", resolve));
});
afterAll(async () => {
  await edge?.close();
  await new Promise((resolve) => app?.close(resolve));
});

it("behind basic auth, the app never receives the password from ml-preview's own checks", async () => {
  const ca = join(mkdtempSync(join(tmpdir(), "edge-ca-")), "ca.pem");
  writeFileSync(ca, edge.caCert);
  const args = ["share", "--port", String((app.address() as AddressInfo).port), "--duration", "5s", "--json"];
  const child = spawn(
    process.execPath,
    [join(ACTION_DIR, "dist/cli.js"), ...args].concat([
      "--basic-auth",
      `reviewer:${PASSWORD}`,
      "--ngrok-server-addr",
      edge.serverAddr,
      "--ngrok-ca-cert",
      ca,
    ]),
    {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        ML_PREVIEW_STATE_DIR: mkdtempSync(join(tmpdir(), "cli-state-")),
        NGROK_AUTHTOKEN: "test-authtoken",
        // A link check every second: several of them while the preview lives.
        ML_PREVIEW_POLL_INTERVAL: "1s",
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (err += d));
  const exit = new Promise<number | null>((resolve) => child.on("close", resolve));
  const live = await new Promise<{ url: string }>((resolve, reject) => {
    child.stdout.on("data", () => {
      const line = out.split("\n").find((l) => l.includes('"event":"live"'));
      if (line) resolve(JSON.parse(line));
    });
    child.on("close", () => reject(new Error(`ended before live: ${err}`)));
  });

  // A reviewer who has the password gets through to the app: the link works.
  const reviewer = Buffer.from(`reviewer:${PASSWORD}`).toString("base64");
  const page = await fetchText(`${live.url}/`, {
    authorization: `Basic ${reviewer}`,
    "user-agent": "reviewer",
  });
  expect(page).toEqual({ status: 200, body: "the app" });
  // Expiry: by then the check before live and every link check of the hold have run.
  expect(await exit, err).toBe(0);
  expect(
    out
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l).event),
  ).toEqual(["ready", "live", "expired"]);
  const withCredentials = seen.filter((r) => r.authorization !== undefined);
  expect(withCredentials).toEqual([{ authorization: `Basic ${reviewer}`, userAgent: "reviewer" }]);
});

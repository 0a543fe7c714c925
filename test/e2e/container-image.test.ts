import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  busyboxHttpdDockerfile,
  busyboxPath,
  containersWithLabel,
  requireDocker,
} from "../support/docker.js";
import { importNodeBaseImage } from "../support/node-base-image.js";
import { ACTION_DIR } from "../support/runner.js";

// The top-level Dockerfile, built on a base assembled from this machine's node (Docker Hub is unreachable
// here), then run the way other CI systems run it: with the host's Docker socket mounted.
const BASE = "ml-preview-test/node-base:local";
const IMAGE = "ml-preview-test/cli:local";
let docker: Docker;

beforeAll(async () => {
  docker = await requireDocker();
  importNodeBaseImage(ACTION_DIR, BASE);
  // TARGETARCH as BuildKit sets it on x86-64 runners ("amd64", not Node's "x64").
  const args = [
    "build",
    "-q",
    "--build-arg",
    `NODE_IMAGE=${BASE}`,
    "--build-arg",
    "TARGETARCH=amd64",
    "-t",
    IMAGE,
    ACTION_DIR,
  ];
  execFileSync("docker", args, {
    stdio: "pipe",
    env: { ...process.env, DOCKER_BUILDKIT: "0" },
  });
}, 300_000);
afterAll(() => {
  spawnSync("docker", ["rmi", "-f", IMAGE, BASE], { stdio: "ignore" });
});

describe("the ml-preview container image", () => {
  it("carries OCI labels, keeps only this platform's ngrok binary, and prints its version", async () => {
    const info = await docker.getImage(IMAGE).inspect();
    expect(info.Config.Labels).toMatchObject({ "org.opencontainers.image.title": "ml-preview" });
    expect(info.Config.Entrypoint).toEqual(["node", "/opt/ml-preview/dist/cli.js"]);
    const files = execFileSync(
      "docker",
      ["run", "--rm", "--entrypoint", "/bin/sh", IMAGE, "-c", "ls /opt/ml-preview/dist"],
      {
        encoding: "utf8",
      },
    );
    expect(files).toContain("ngrok.linux-x64-gnu.node");
    expect(files).not.toContain("ngrok.linux-arm64-gnu.node");
    const version = execFileSync("docker", ["run", "--rm", IMAGE, "--version"], { encoding: "utf8" }).trim();
    expect(version).toBe(
      JSON.parse(execFileSync("cat", [join(ACTION_DIR, "package.json")], { encoding: "utf8" })).version,
    );
  });

  it("runs `up` against the host engine through the mounted socket and cleans up", async () => {
    const ctx = mkdtempSync(join(tmpdir(), "image-app-"));
    copyFileSync(busyboxPath(), join(ctx, "busybox"));
    writeFileSync(join(ctx, "Dockerfile"), busyboxHttpdDockerfile(8080));
    // --network host: the app's port is published on the host's 127.0.0.1, where the CLI must reach it.
    const run = spawnSync(
      "docker",
      [
        "run",
        "--rm",
        "--network",
        "host",
        "-v",
        "/var/run/docker.sock:/var/run/docker.sock",
        "-v",
        `${ctx}:/work/app`,
        IMAGE,
        "up",
        "app",
        "--tunnel",
        "none",
        "--duration",
        "2s",
        "--json",
        "--name",
        "imgtest",
      ],
      { encoding: "utf8", timeout: 120_000 },
    );
    expect(run.status, run.stderr).toBe(0);
    const events = run.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l).event);
    expect(events).toEqual(["building", "starting", "ready", "live", "expired"]);
    expect(await containersWithLabel(docker, "ml-preview.name=imgtest")).toEqual([]);
  });
});

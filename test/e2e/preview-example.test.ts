import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalRegistry, startRegistry } from "../../bench/registry.js";
import {
  busyboxContext,
  busyboxHttpdDockerfile,
  containersWithLabel,
  requireDocker,
} from "../support/docker.js";
import { freePort } from "../support/ports.js";
import { uniqueRun } from "../support/preview-containers.js";
import { ACTION_DIR } from "../support/runner.js";

// scripts/preview-example.sh previews the Dash example only where the engine can get its base image (locally
// or from its registry), else examples/debian-tips. The choice is scripts/choose-example.mjs, asked here about
// Dash-like folders whose FROM names images on a loopback registry, one that is down, or the engine itself.
const RUN = uniqueRun("example-choice");
const LOCAL_BASE = `ml-preview-test/${RUN}:base`;
const FALLBACK_LINE =
  /^preview-example: the Docker engine cannot get (\S+) from (.+?) \((.+)\), so this previews examples\/debian-tips instead: .+\n$/;
let docker: Docker;
let registry: LocalRegistry;
const dirs: string[] = [];

function dashLike(dockerfile: string): string {
  const dir = mkdtempSync(join(tmpdir(), "ml-preview-example-"));
  dirs.push(dir);
  writeFileSync(join(dir, "Dockerfile"), dockerfile);
  return dir;
}

function choose(preferred: string | undefined, env: Record<string, string> = {}) {
  const args = [join(ACTION_DIR, "scripts/choose-example.mjs"), ...(preferred ? [preferred] : [])];
  const { ML_PREVIEW_EXAMPLE: _, ...clean } = process.env;
  return spawnSync("node", args, { encoding: "utf8", env: { ...clean, ...env }, timeout: 60_000 });
}

beforeAll(async () => {
  docker = await requireDocker();
  const registryUp = await startRegistry();
  if (!registryUp) throw new Error("docker-registry is not installed: run scripts/setup.sh");
  registry = registryUp;
  const ctx = busyboxContext("FROM scratch\nCOPY busybox /bin/busybox\n");
  dirs.push(ctx);
  execFileSync("docker", ["build", "-q", "-t", LOCAL_BASE, ctx], {
    stdio: "pipe",
    env: { ...process.env, DOCKER_BUILDKIT: "0" },
  });
  // On the registry only: the probe must ask the registry, not find it on the engine.
  const remote = `${registry.host}/ml-preview-test/${RUN}:base`;
  execFileSync("docker", ["tag", LOCAL_BASE, remote]);
  execFileSync("docker", ["push", "-q", remote], { stdio: "pipe" });
  execFileSync("docker", ["rmi", remote], { stdio: "pipe" });
}, 120_000);

afterAll(async () => {
  spawnSync("docker", ["rmi", "-f", LOCAL_BASE], { stdio: "ignore" });
  for (const image of await docker.listImages({ filters: { label: [`ml-preview.name=${RUN}`] } }))
    await docker
      .getImage(image.Id)
      .remove({ force: true })
      .catch(() => {});
  await registry?.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe("which example the Quick start previews", () => {
  it("the preferred example, silently, when the engine can pull its base image from the registry", () => {
    const dir = dashLike(`FROM ${registry.host}/ml-preview-test/${RUN}:base\nCMD ["busybox", "true"]\n`);
    const choice = choose(dir);
    expect(choice.stderr).toBe("");
    expect(choice.stdout).toBe(`${dir}\n`);
    expect(choice.status).toBe(0);
  });

  it("the preferred example when its base image is already on the engine (a later stage FROM an earlier one too)", () => {
    const dir = dashLike(`FROM ${LOCAL_BASE} AS deps\nFROM deps\n`);
    const choice = choose(dir);
    expect([choice.status, choice.stdout, choice.stderr]).toEqual([0, `${dir}\n`, ""]);
  });

  it("the Debian example, with one line naming the image, the registry and its error, when the registry does not answer", async () => {
    const down = `127.0.0.1:${await freePort()}`;
    const choice = choose(dashLike(`FROM ${down}/python:3.12-slim\n`));
    expect(choice.status).toBe(0);
    expect(choice.stdout).toBe("examples/debian-tips\n");
    const [, image, registryName, why] = FALLBACK_LINE.exec(choice.stderr) ?? [];
    expect([image, registryName]).toEqual([`${down}/python:3.12-slim`, down]);
    expect(why).toMatch(/connection refused/);
  });

  it("the Debian example when the registry answers but has no such image", () => {
    const choice = choose(dashLike(`FROM ${registry.host}/ml-preview-test/${RUN}:missing\n`));
    expect(choice.stdout).toBe("examples/debian-tips\n");
    expect(choice.stderr).toMatch(FALLBACK_LINE);
    expect(choice.stderr).toMatch(/manifest unknown/);
  });

  it("names Docker Hub when the image has no registry host", () => {
    const missing = `ml-preview-test/${RUN}-never-built:1`;
    const choice = choose(dashLike(`FROM ${missing}\n`));
    expect(choice.stdout).toBe("examples/debian-tips\n");
    expect(FALLBACK_LINE.exec(choice.stderr)?.slice(1, 3)).toEqual([missing, "Docker Hub"]);
  });

  it("ML_PREVIEW_EXAMPLE picks the folder without asking the engine; a folder without a Dockerfile is one error", () => {
    const forced = choose(dashLike("FROM 127.0.0.1:1/unreachable:1\n"), {
      ML_PREVIEW_EXAMPLE: "examples/debian-tips",
    });
    expect([forced.status, forced.stdout, forced.stderr]).toEqual([0, "examples/debian-tips\n", ""]);
    const bad = choose(undefined, { ML_PREVIEW_EXAMPLE: "examples/no-such-app" });
    expect(bad.status).toBe(2);
    expect(bad.stdout).toBe("");
    expect(bad.stderr).toBe(
      "preview-example: ML_PREVIEW_EXAMPLE=examples/no-such-app is not a folder with a Dockerfile; " +
        "set it to examples/dash-tips or examples/debian-tips, or unset it to let the script choose.\n",
    );
  });

  it("preview-example.sh runs the chosen example through `ml-preview up` and leaves no container behind", async () => {
    const app = busyboxContext(busyboxHttpdDockerfile(8080));
    dirs.push(app);
    const run = spawnSync(
      "bash",
      [
        join(ACTION_DIR, "scripts/preview-example.sh"),
        "--tunnel",
        "none",
        "--duration",
        "2s",
        "--json",
        "--name",
        RUN,
      ],
      { encoding: "utf8", env: { ...process.env, ML_PREVIEW_EXAMPLE: app }, timeout: 120_000 },
    );
    expect(run.status, run.stderr).toBe(0);
    const events = run.stdout
      .trim()
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as { event: string; localUrl?: string });
    expect(events.map((e) => e.event)).toEqual(["building", "starting", "ready", "live", "expired"]);
    expect(events[3]?.localUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+/);
    expect(await containersWithLabel(docker, `ml-preview.name=${RUN}`)).toEqual([]);
  });
});

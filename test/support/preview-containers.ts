import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import type Docker from "dockerode";
import type { PreviewLabels, RunOptions } from "../../src/docker/types.js";
import type { PreparedImage } from "../../src/lifecycle/types.js";
import { busyboxContext } from "./docker.js";

/** A run id no other test file (or parallel helper) uses: every container a file starts carries it. */
export function uniqueRun(prefix: string): string {
  return `${prefix}-${process.pid}-${randomBytes(4).toString("hex")}`;
}

export function labelsFor(run: string, name: string): PreviewLabels {
  return {
    "ml-preview.repo": "ml-preview/e2e",
    "ml-preview.pr": "0",
    "ml-preview.run": run,
    "ml-preview.name": name,
  };
}

export function runOptions(extra: Partial<RunOptions> = {}): RunOptions {
  return { name: "app", env: {}, resources: {}, secrets: [], ...extra };
}

/** Builds a FROM-scratch busybox image with the docker CLI (the classic builder is fine for tiny images). */
export function buildTestImage(
  tag: string,
  run: string,
  dockerfile: string,
  files: Record<string, string> = {},
): PreparedImage {
  const dir = busyboxContext(dockerfile, files);
  try {
    const id = execFileSync("docker", ["build", "-q", "-t", tag, "--label", `ml-preview.run=${run}`, dir], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    }).trim();
    return { imageId: id, ref: tag, built: true };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function removeTestImages(docker: Docker, run: string): Promise<void> {
  const images = await docker.listImages({ filters: { label: [`ml-preview.run=${run}`] } });
  for (const image of images)
    await docker
      .getImage(image.Id)
      .remove({ force: true })
      .catch(() => undefined);
}

/** What `docker ps -a --filter label=ml-preview.run=RUN` lists, asked of the real CLI. */
export function leftoverContainers(run: string): string[] {
  return execFileSync("docker", ["ps", "-aq", "--filter", `label=ml-preview.run=${run}`], {
    encoding: "utf8",
  })
    .split("\n")
    .filter(Boolean);
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

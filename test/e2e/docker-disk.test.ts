import { statfsSync } from "node:fs";
import type Docker from "dockerode";
import { beforeAll, describe, expect, it } from "vitest";
import { checkDiskSpace, diskSpaceError } from "../../src/docker/disk.js";
import { requireDocker } from "../support/docker.js";

let docker: Docker;

beforeAll(async () => {
  docker = await requireDocker();
});

describe("checkDiskSpace (real dockerd, local)", () => {
  it("measures the free space of the engine's data root", async () => {
    const root = String((await docker.info()).DockerRootDir);
    const check = await checkDiskSpace(docker, 1, {});
    expect(check).toMatchObject({ status: "ok", neededBytes: 1, dataRoot: root });
    const stats = statfsSync(root);
    // Other tests write meanwhile: the same filesystem, within 1 GB.
    expect(Math.abs((check.freeBytes ?? 0) - stats.bavail * stats.bsize)).toBeLessThan(1e9);
  });

  it("says low when the need exceeds it, with a message the user can act on", async () => {
    const check = await checkDiskSpace(docker, 1e18, { DOCKER_HOST: "unix:///var/run/docker.sock" });
    expect(check.status).toBe("low");
    expect(diskSpaceError(check, "build", "Building the image").message).toMatch(
      /^Building the image needs about 1000000000\.0 GB of disk, and the Docker engine's data root \/\S+ has \d+\.\d GB free/,
    );
  });
});

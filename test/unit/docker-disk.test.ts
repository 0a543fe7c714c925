import type Docker from "dockerode";
import { describe, expect, it } from "vitest";
import {
  BUILD_MARGIN_BYTES,
  checkDiskSpace,
  diskSpaceError,
  PULL_MARGIN_BYTES,
  spaceNeeded,
} from "../../src/docker/disk.js";

describe("spaceNeeded", () => {
  it("is the documented margin for a build, and unpacked size plus margin for a pull", () => {
    expect(spaceNeeded({ kind: "build" })).toBe(BUILD_MARGIN_BYTES);
    expect(spaceNeeded({ kind: "pull", compressedBytes: 2e9 })).toBe(6e9 + PULL_MARGIN_BYTES);
    expect(spaceNeeded({ kind: "pull" })).toBe(PULL_MARGIN_BYTES);
  });
});

describe("checkDiskSpace", () => {
  it.each(["tcp://10.0.0.5:2376", "ssh://ci@builder", "npipe:////./pipe/docker_engine"])(
    "does not guess for a remote engine (%s)",
    async (host) => {
      // The engine is never asked: nothing local can measure a remote disk.
      const untouchable = {} as Docker;
      expect(await checkDiskSpace(untouchable, 1, { DOCKER_HOST: host })).toEqual({
        status: "unknown",
        neededBytes: 1,
      });
    },
  );
});

describe("diskSpaceError", () => {
  it("names the step, the data root, both sizes and the runner's fix", () => {
    const err = diskSpaceError(
      { status: "low", neededBytes: 12.5e9, freeBytes: 3.21e9, dataRoot: "/var/lib/docker" },
      "pull",
      "Pulling ghcr.io/acme/app:1",
    );
    expect(err.step).toBe("pull");
    expect(err.code).toBe("DISK_SPACE_LOW");
    expect(err.message).toContain("Pulling ghcr.io/acme/app:1 needs about 12.5 GB of disk");
    expect(err.message).toContain("data root /var/lib/docker has 3.2 GB free");
    expect(err.message).toMatch(/sudo rm -rf \/usr\/share\/dotnet .*larger runner/);
  });
});

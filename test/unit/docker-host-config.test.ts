import { describe, expect, it } from "vitest";
import {
  CAP_ADD,
  containerSpec,
  hostConfig,
  LOG_MAX_FILES,
  LOG_MAX_SIZE,
  STOP_GRACE_SECONDS,
} from "../../src/docker/host-config.js";

const labels = {
  "ml-preview.repo": "o/r",
  "ml-preview.pr": "7",
  "ml-preview.run": "1.1",
  "ml-preview.name": "app",
};

const network = "ml-preview-app-0a1b2c3d";

const variants = [
  {},
  { gpus: "all" as const },
  { gpus: 2, memoryBytes: 4 * 1024 ** 3, nanoCpus: 1_500_000_000 },
];

describe("containerSpec", () => {
  it.each(variants)("never privileged, no binds, loopback only (%j)", (resources) => {
    const spec = containerSpec({
      imageId: "sha256:abc",
      containerPort: 8501,
      env: {},
      resources,
      labels,
      network,
    });
    const host = spec.HostConfig!;
    expect(host.Privileged).toBe(false);
    expect(JSON.stringify(spec)).not.toMatch(/docker\.sock/);
    expect(host.Binds ?? []).toEqual([]);
    expect((host as { Mounts?: unknown[] }).Mounts ?? []).toEqual([]);
    expect(host.PublishAllPorts).toBe(false);
    const bindings = Object.values(
      host.PortBindings as Record<string, { HostIp: string; HostPort: string }[]>,
    ).flat();
    expect(bindings).toEqual([{ HostIp: "127.0.0.1", HostPort: "" }]);
    expect(host.SecurityOpt).toContain("no-new-privileges:true");
    expect(host.CapDrop).toEqual(["ALL"]);
    expect(host.CapAdd).not.toContain("SYS_ADMIN");
    expect(host.CapAdd).not.toContain("NET_RAW");
    expect(host.Init).toBe(true);
    expect(host.AutoRemove).toBe(false);
    expect(host.PidsLimit).toBeGreaterThan(0);
    // The preview's own bridge: never the host's network, nor Docker's default bridge shared by all.
    expect(host.NetworkMode).toBe(network);
  });

  it("carries env, command, labels, port and a short stop grace", () => {
    const spec = containerSpec({
      imageId: "sha256:abc",
      containerPort: 7860,
      env: { A: "1", TOKEN: "s=cret" },
      command: ["python", "app.py"],
      resources: {},
      labels,
      network,
    });
    expect(spec.Image).toBe("sha256:abc");
    expect(spec.Env).toEqual(["A=1", "TOKEN=s=cret"]);
    expect(spec.Cmd).toEqual(["python", "app.py"]);
    expect(spec.Labels).toEqual(labels);
    expect(spec.ExposedPorts).toEqual({ "7860/tcp": {} });
    expect(spec.Tty).toBe(false);
    expect(spec.StopTimeout).toBe(STOP_GRACE_SECONDS);
    expect(STOP_GRACE_SECONDS).toBeLessThanOrEqual(2);
  });

  it("mounts cache volumes by name, never as host binds", () => {
    const volumes = [{ name: "ml-preview-cache-app-0123", path: "/root/.cache/huggingface" }];
    const host = containerSpec({
      imageId: "x",
      containerPort: 80,
      env: {},
      resources: {},
      labels,
      network,
      volumes,
    }).HostConfig!;
    expect(host.Binds).toEqual([]);
    expect(host.Mounts).toEqual([
      {
        Type: "volume",
        Source: "ml-preview-cache-app-0123",
        Target: "/root/.cache/huggingface",
        ReadOnly: false,
      },
    ]);
  });

  it("keeps the image's command when none is given", () => {
    const spec = containerSpec({ imageId: "x", containerPort: 80, env: {}, resources: {}, labels, network });
    expect(spec).not.toHaveProperty("Cmd");
  });

  it("maps resources the way `docker run` does", () => {
    const host = hostConfig(80, { gpus: "all", memoryBytes: 1024 ** 3, nanoCpus: 2e9 });
    expect(host.DeviceRequests).toEqual([
      { Driver: "", Count: -1, DeviceIDs: [], Capabilities: [["gpu"]], Options: {} },
    ]);
    expect(host.Memory).toBe(1024 ** 3);
    expect(host.NanoCpus).toBe(2e9);
    expect(hostConfig(80, { gpus: 1 }).DeviceRequests?.[0]?.Count).toBe(1);
    expect(hostConfig(80, {})).not.toHaveProperty("DeviceRequests");
    expect(hostConfig(80, {})).not.toHaveProperty("Memory");
  });

  it("gives back only a documented, small set of capabilities", () => {
    expect([...CAP_ADD].sort()).toEqual([
      "CHOWN",
      "DAC_OVERRIDE",
      "FOWNER",
      "KILL",
      "NET_BIND_SERVICE",
      "SETGID",
      "SETUID",
    ]);
  });
});

describe("the app's log on disk", () => {
  const spec = (logDriver?: string) =>
    containerSpec({ imageId: "x", containerPort: 80, env: {}, resources: {}, labels, network, logDriver });

  it.each(["json-file", "local"])("is capped for the rotating %s driver", (driver) => {
    expect(spec(driver).HostConfig!.LogConfig).toEqual({
      Type: driver,
      Config: { "max-size": LOG_MAX_SIZE, "max-file": LOG_MAX_FILES },
    });
  });

  it.each(["journald", "syslog", undefined])(
    "is left to the engine for %s (it refuses max-size)",
    (driver) => {
      expect(spec(driver).HostConfig).not.toHaveProperty("LogConfig");
    },
  );
});

import type Docker from "dockerode";
import type { Resources } from "../config/types.js";
import type { PreviewLabels } from "./types.js";

/**
 * Seconds between SIGTERM and SIGKILL when a preview is stopped. Previews hold no state worth a long
 * flush, and teardown (also on runner cancellation, which SIGKILLs us 7.5 s after SIGINT) must stay ~2 s.
 */
export const STOP_GRACE_SECONDS = 1;

/** The label naming the process that holds a container (see thisHolder in sweep.ts). */
export const HOLDER_LABEL = "ml-preview.holder";

/** A fork-bomb guard, high enough for thread-heavy ML stacks (every thread counts as a pid). */
export const PIDS_LIMIT = 4096;

/**
 * Everything is dropped, then these are given back. They are what typical Python web app images use:
 * - CHOWN, DAC_OVERRIDE, FOWNER: root entrypoints that fix ownership of app/cache dirs before starting
 *   (Jupyter/Voila's start scripts, images that write to a dir COPY'd with --chown for another user);
 * - SETUID, SETGID: dropping from root to an app user (`gosu`, `su-exec`, gunicorn `--user`);
 * - KILL: a root supervisor signalling workers that run as another user (gunicorn, supervisord);
 * - NET_BIND_SERVICE: apps that listen on port 80 (e.g. the tiangolo uvicorn-gunicorn images) on engines
 *   older than 20.10, which do not yet set net.ipv4.ip_unprivileged_port_start=0 in containers.
 * Left out of Docker's default set: NET_RAW (raw packets: ARP/DNS spoofing on the runner's bridge),
 * MKNOD, SYS_CHROOT, SETPCAP, SETFCAP, FSETID, AUDIT_WRITE — no web framework needs them.
 */
export const CAP_ADD: readonly string[] = [
  "CHOWN",
  "DAC_OVERRIDE",
  "FOWNER",
  "SETUID",
  "SETGID",
  "KILL",
  "NET_BIND_SERVICE",
];

/**
 * The app's log on the runner's disk is capped: 3 files of 10 MB for the drivers that rotate (json-file,
 * Docker's default, and local). An app printing a GB of logs must not fill the ~14 GB a hosted runner has
 * free; the last lines a failure report needs are well inside 30 MB. Other drivers (journald, syslog, a
 * daemon.json choice) ship logs off the box and refuse these options, so they are left as configured.
 */
export const LOG_MAX_SIZE = "10m";
export const LOG_MAX_FILES = "3";
const ROTATING_LOG_DRIVERS = ["json-file", "local"];

export interface ContainerSpecInput {
  readonly imageId: string;
  readonly containerPort: number;
  readonly env: Readonly<Record<string, string>>;
  readonly command?: readonly string[];
  readonly resources: Resources;
  readonly labels: PreviewLabels;
  /** The preview's own network (network.ts), never Docker's default bridge that every container shares. */
  readonly network: string;
  /** Named volumes (cache-dirs) to mount; see volumes.ts. */
  readonly volumes?: readonly VolumeMount[];
  /** Which process holds the container (HOLDER_LABEL), so a later run can tell it was left behind. */
  readonly holder?: string;
  /** The engine's default logging driver (`docker info`), to cap the log where it can be capped. */
  readonly logDriver?: string;
}

/** A named Docker volume mounted at a path in the container. */
export interface VolumeMount {
  readonly name: string;
  readonly path: string;
}

/** The create request for a preview container. Pure, so its safety properties are unit-tested. */
export function containerSpec(input: ContainerSpecInput): Docker.ContainerCreateOptions {
  const portKey = `${input.containerPort}/tcp`;
  return {
    Image: input.imageId,
    ...(input.command ? { Cmd: [...input.command] } : {}),
    Env: Object.entries(input.env).map(([key, value]) => `${key}=${value}`),
    Labels: { ...input.labels, ...(input.holder ? { [HOLDER_LABEL]: input.holder } : {}) },
    ExposedPorts: { [portKey]: {} },
    StopTimeout: STOP_GRACE_SECONDS,
    // No TTY: stdout and stderr stay separate streams we can demux; nothing reads stdin.
    Tty: false,
    OpenStdin: false,
    AttachStdin: false,
    AttachStdout: true,
    AttachStderr: true,
    HostConfig: {
      ...hostConfig(input.containerPort, input.resources, input.volumes),
      NetworkMode: input.network,
      ...(input.logDriver && ROTATING_LOG_DRIVERS.includes(input.logDriver)
        ? {
            LogConfig: {
              Type: input.logDriver,
              Config: { "max-size": LOG_MAX_SIZE, "max-file": LOG_MAX_FILES },
            },
          }
        : {}),
    },
  };
}

export function hostConfig(
  containerPort: number,
  resources: Resources,
  volumes: readonly VolumeMount[] = [],
): Docker.HostConfig {
  return {
    // Loopback only; HostPort "" lets Docker pick a free port, read back with inspect after start.
    PortBindings: { [`${containerPort}/tcp`]: [{ HostIp: "127.0.0.1", HostPort: "" }] },
    PublishAllPorts: false,
    // Tutorial apps ignore SIGTERM as PID 1; docker-init forwards it and reaps zombies.
    Init: true,
    // Removal is ours (remove()), so exit codes and logs survive until the lifecycle has read them.
    AutoRemove: false,
    RestartPolicy: { Name: "no", MaximumRetryCount: 0 },
    Privileged: false,
    CapDrop: ["ALL"],
    CapAdd: [...CAP_ADD],
    SecurityOpt: ["no-new-privileges:true"],
    PidsLimit: PIDS_LIMIT,
    // No bind mounts at all: in particular the Docker socket never enters the container.
    Binds: [],
    // Named volumes only (the engine keeps their data; nothing of the host's filesystem is shared).
    ...(volumes.length > 0 ? { Mounts: volumeMounts(volumes) } : {}),
    ...(resources.memoryBytes !== undefined ? { Memory: resources.memoryBytes } : {}),
    ...(resources.nanoCpus !== undefined ? { NanoCpus: resources.nanoCpus } : {}),
    ...(resources.gpus !== undefined ? { DeviceRequests: [gpuRequest(resources.gpus)] } : {}),
  };
}

/** `--mount type=volume,source=NAME,target=PATH`, writable: the app fills its caches there. */
export function volumeMounts(volumes: readonly VolumeMount[]): Docker.MountSettings[] {
  return volumes.map((v) => ({ Type: "volume", Source: v.name, Target: v.path, ReadOnly: false }));
}

/** What `docker run --gpus all|N` sends: any driver that offers the "gpu" capability. */
function gpuRequest(gpus: "all" | number): Docker.DeviceRequest {
  return {
    Driver: "",
    Count: gpus === "all" ? -1 : gpus,
    DeviceIDs: [],
    Capabilities: [["gpu"]],
    Options: {},
  };
}

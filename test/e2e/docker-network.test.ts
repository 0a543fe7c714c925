import { spawn } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { hostname } from "node:os";
import Docker from "dockerode";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startContainer } from "../../src/docker/container.js";
import { createAppNetwork } from "../../src/docker/network.js";
import { waitUntilReady } from "../../src/docker/readiness/wait.js";
import { removeEndedRuns, sweepContainers } from "../../src/docker/sweep.js";
import type { AppContainer } from "../../src/docker/types.js";
import { PreviewError } from "../../src/errors.js";
import type { PreparedImage } from "../../src/lifecycle/types.js";
import { silentLogger } from "../../src/log.js";
import { busyboxHttpdDockerfile, networksWithLabel, requireDocker } from "../support/docker.js";
import { EngineProxy } from "../support/engine-proxy.js";
import {
  buildTestImage,
  labelsFor,
  leftoverContainers,
  removeTestImages,
  runOptions,
  uniqueRun,
} from "../support/preview-containers.js";

// The app's own network (src/docker/network.ts) on the real engine: what the app can reach, and that the
// network goes on every path its container goes.
const run = uniqueRun("e2e-net");
let docker: Docker;
let httpd: PreparedImage;
let bystander: Docker.Container;
let proxy: EngineProxy | undefined;
const started: AppContainer[] = [];

beforeAll(async () => {
  docker = await requireDocker();
  httpd = buildTestImage(`ml-preview-e2e/net-httpd:${run}`, run, busyboxHttpdDockerfile(8080));
  // Another job's container on Docker's default bridge, as on a shared self-hosted runner.
  // (The image's run label is overridden: the bystander is no preview, no sweep of this run takes it.)
  bystander = await docker.createContainer({
    Image: httpd.imageId,
    Labels: { "ml-preview.run": `${run}-bystander` },
  });
  await bystander.start();
});

afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
  await Promise.all(started.splice(0).map((app) => app.remove().catch(() => undefined)));
  const left = [...leftoverContainers(run), ...(await networksWithLabel(docker, `ml-preview.run=${run}`))];
  await sweepContainers(docker, { "ml-preview.run": run }); // never leak, even when the assertion fails
  expect(left).toEqual([]);
});

afterAll(async () => {
  await bystander?.remove({ force: true });
  if (docker) await removeTestImages(docker, run);
});

async function start(name: string, opts = runOptions(), engine = docker): Promise<AppContainer> {
  const app = await startContainer(engine, httpd, opts, labelsFor(run, name), silentLogger);
  started.push(app);
  return app;
}

/** The container's first network: its name and its address and gateway there, and all its networks. */
async function networkOf(id: string) {
  const info = await docker.getContainer(id).inspect();
  const [name, settings] = Object.entries(info.NetworkSettings.Networks)[0]!;
  const { IPAddress, Gateway } = settings;
  return { name, IPAddress, Gateway, networks: Object.keys(info.NetworkSettings.Networks), info };
}

/**
 * Can `from` open a TCP connection to host:port and get an HTTP answer? busybox nc inside the container,
 * bounded by its own connect timeout (a dropped packet is only ever seen as no answer).
 */
async function reaches(from: string, host: string, port: number): Promise<boolean> {
  const exec = await docker.getContainer(from).exec({
    Cmd: ["sh", "-c", `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${host} ${port}`],
    AttachStdout: true,
    AttachStderr: true,
  });
  const stream = await exec.start({});
  const out = await new Promise<string>((resolve) => {
    let text = "";
    stream.on("data", (d: Buffer) => (text += d.toString("latin1")));
    stream.on("end", () => resolve(text));
  });
  const { ExitCode } = await exec.inspect();
  return ExitCode === 0 && /HTTP\/1\.[01] \d{3}/.test(out);
}

const ownNetworks = (name: string) => networksWithLabel(docker, `ml-preview.name=${name}`);

describe("the app's own network", () => {
  let hostServer: Server | undefined;
  afterAll(() => hostServer?.close());

  it("reaches no other container and none reaches it; its port stays on 127.0.0.1; it still gets out", async () => {
    const [a, b] = await Promise.all([start("net-a"), start("net-b")]);
    await Promise.all([a, b].map((app) => waitUntilReady(docker, app, { timeoutMs: 20_000 })));
    const [netA, netB, other] = await Promise.all([
      networkOf(a.id),
      networkOf(b.id),
      networkOf(bystander.id),
    ]);
    expect(other.name).toBe("bridge");

    // A server outside the app's network (on the host, at the app's gateway): the way out works.
    hostServer = createServer((_req, res) => res.end("outside says hi"));
    await new Promise<void>((resolve) => hostServer!.listen(0, netA.Gateway, resolve));
    expect(await reaches(a.id, netA.Gateway, (hostServer.address() as AddressInfo).port)).toBe(true);

    const [toBystander, toOtherPreview, fromBystander, fromOtherPreview] = await Promise.all([
      reaches(a.id, other.IPAddress, 8080),
      reaches(a.id, netB.IPAddress, 8080),
      reaches(bystander.id, netA.IPAddress, 8080),
      reaches(b.id, netA.IPAddress, 8080),
    ]);
    expect({ toBystander, toOtherPreview, fromBystander, fromOtherPreview }).toEqual({
      toBystander: false,
      toOtherPreview: false,
      fromBystander: false,
      fromOtherPreview: false,
    });

    // One network only, its own: a plain bridge (not internal), labelled like the container.
    expect(netA.networks).toEqual([netA.name]);
    expect(netA.name).not.toBe(netB.name);
    const network = await docker.getNetwork(netA.name).inspect();
    expect(network).toMatchObject({ Driver: "bridge", Internal: false });
    expect(network.Labels).toMatchObject({
      ...labelsFor(run, "net-a"),
      "ml-preview.holder": expect.any(String),
    });
    expect(netA.info.NetworkSettings.Ports["8080/tcp"]).toEqual([
      { HostIp: "127.0.0.1", HostPort: String(a.hostPort) },
    ]);
  });
});

describe("no network is left after any end", () => {
  it("stopped, or crashed at start", async () => {
    const stopped = await start("net-stopped");
    expect(await ownNetworks("net-stopped")).toHaveLength(1);
    await stopped.remove();
    expect(await ownNetworks("net-stopped")).toEqual([]);

    const crashed = await start("net-crashed", runOptions({ command: ["sh", "-c", "exit 3"] }));
    expect((await crashed.exited).exitCode).toBe(3);
    await crashed.remove();
    expect(await ownNetworks("net-crashed")).toEqual([]);
  });

  it("a container Docker refuses to create takes its network with it", async () => {
    const refused = await start("net-refused", runOptions({ resources: { memoryBytes: 1024 } })).catch(
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(PreviewError);
    expect((refused as PreviewError).message).toMatch(/memory/i);
    expect(await ownNetworks("net-refused")).toEqual([]);
  });

  it("the sweep by labels (post step, CLI) takes the networks too, with or without their container", async () => {
    await start("net-swept");
    await createAppNetwork(docker, labelsFor(run, "net-swept"), undefined);
    expect(await ownNetworks("net-swept")).toHaveLength(2);
    await sweepContainers(docker, { "ml-preview.run": run, "ml-preview.name": "net-swept" });
    expect(await ownNetworks("net-swept")).toEqual([]);
  });

  it("the next run removes the network (and container) of a run whose holder process ended", async () => {
    const deadPid = await new Promise<number>((resolve) => {
      const child = spawn(process.execPath, ["-e", ""]);
      child.on("exit", () => resolve(child.pid!));
    });
    const ended = { ...labelsFor(`${run}-ended`, "net-ended") };
    const holder = `${hostname()}/${deadPid}/-`;
    const network = await createAppNetwork(docker, ended, holder);
    const orphan = await docker.createContainer({
      Image: httpd.imageId,
      Labels: { ...ended, "ml-preview.holder": holder },
      HostConfig: { NetworkMode: network.name },
    });
    const removed = await removeEndedRuns(docker, labelsFor(run, "net-ended"));
    expect(removed).toEqual([
      { kind: "container", id: orphan.id, run: `${run}-ended` },
      { kind: "network", id: network.name, run: `${run}-ended` },
    ]);
    expect(await ownNetworks("net-ended")).toEqual([]);
  });
});

describe("the engine going away while the network is removed", () => {
  it("is reported like the container's: the network named, with the command to remove it", async () => {
    proxy = await EngineProxy.start();
    const app = await start("net-outage", runOptions(), new Docker({ socketPath: proxy.socketPath }));
    const [name] = await ownNetworks("net-outage");
    void proxy.cutOn(/^DELETE \S*\/networks\//);
    const err = await app.remove({ patienceMs: 1500 }).then(
      () => undefined,
      (e: unknown) => e as PreviewError,
    );
    expect(err).toBeInstanceOf(PreviewError);
    expect(err!.message).toMatch(
      new RegExp(`^Could not remove network ${name}: the Docker engine did not answer for 2 s \\(`),
    );
    expect(err!.message).toContain(`\`docker network rm ${name}\``);
    // The container is gone; only the network is left, and said so.
    await expect(docker.getContainer(app.id).inspect()).rejects.toMatchObject({ statusCode: 404 });
    expect(await ownNetworks("net-outage")).toEqual([name]);
    await docker.getNetwork(name!).remove();
  });

  it("within patience, the removal waits for the engine and then takes the network", async () => {
    proxy = await EngineProxy.start();
    const app = await start("net-patient", runOptions(), new Docker({ socketPath: proxy.socketPath }));
    const cut = proxy.cutOn(/^DELETE \S*\/networks\//);
    const waiting: string[] = [];
    const removal = app.remove({ patienceMs: 60_000, onWaiting: (problem) => waiting.push(problem) });
    await cut;
    await proxy.restore();
    await removal;
    expect(waiting).toHaveLength(1);
    expect(await ownNetworks("net-patient")).toEqual([]);
  });
});

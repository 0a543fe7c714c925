import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import type Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildWithEngine } from "../../src/docker/build.js";
import { imageLabels, prepareImage } from "../../src/docker/image.js";
import type { PreviewLabels } from "../../src/docker/types.js";
import { PreviewError } from "../../src/errors.js";
import type { Logger } from "../../src/log.js";
import { buildSource, busyboxContext, requireDocker } from "../support/docker.js";
import { waitFor } from "../support/preview-fixture.js";

const RUN = `e2e-build-${randomBytes(4).toString("hex")}`;
const labels: PreviewLabels = {
  "ml-preview.repo": "octo/e2e-build",
  "ml-preview.pr": "7",
  "ml-preview.run": RUN,
  "ml-preview.name": "app",
};
const INSTALL = 'RUN ["/bin/busybox", "--install", "-s", "/bin"]';

let docker: Docker;
const contexts: string[] = [];
let tagCount = 0;

function tag(): string {
  return `ml-preview-e2e/${RUN}:t${++tagCount}`;
}

function context(dockerfile: string, files: Record<string, string> = {}): string {
  const dir = busyboxContext(dockerfile, files);
  contexts.push(dir);
  return dir;
}

const build = buildSource;

function recordingLogger() {
  const lines: string[] = [];
  const warnings: string[] = [];
  const groups: string[] = [];
  const log: Logger = {
    info: (m) => lines.push(m),
    warning: (m) => warnings.push(m),
    debug: () => {},
    group: (title, fn) => {
      groups.push(title);
      return fn();
    },
  };
  return { log, lines, warnings, groups };
}

function buildKitRequest(dir: string) {
  return {
    context: dir,
    dockerfile: "Dockerfile",
    buildArgs: {},
    tag: tag(),
    labels,
    builder: "buildkit" as const,
    noCache: true,
  };
}

/** Processes of this machine whose command line holds `marker` (a build step's, under the engine). */
function processesWith(marker: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
      if (cmdline.includes(marker) && Number(pid) !== process.pid) found.push(`${pid}: ${cmdline}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** Whether this process has `path` open (the session reading it for the engine). */
function openedByUs(path: string): boolean {
  return readdirSync("/proc/self/fd").some((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === path;
    } catch {
      return false;
    }
  });
}

/** Open unix-socket handles of this process: the engine connections, a session's among them. */
function enginePipes(): number {
  return process.getActiveResourcesInfo().filter((r) => r === "PipeWrap").length;
}

async function failure(promise: Promise<unknown>): Promise<PreviewError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PreviewError);
  return err as PreviewError;
}

async function historyOf(imageId: string): Promise<string> {
  const history = (await docker.getImage(imageId).history()) as { CreatedBy: string }[];
  return history.map((h) => h.CreatedBy).join("\n");
}

beforeAll(async () => {
  docker = await requireDocker();
});

afterAll(async () => {
  for (const dir of contexts) rmSync(dir, { recursive: true, force: true });
  const tagged = await docker.listImages({ filters: { reference: [`ml-preview-e2e/${RUN}`] } });
  // Images carry no run label (see imageLabels): every image of ours here has this file's repo label.
  const labelled = await docker.listImages({
    all: true,
    filters: { label: [`ml-preview.repo=${labels["ml-preview.repo"]}`] },
  });
  for (const image of [...tagged, ...labelled])
    await docker
      .getImage(image.Id)
      .remove({ force: true })
      .catch(() => {});
  const left = await docker.listContainers({ all: true, filters: { label: [`ml-preview.run=${RUN}`] } });
  expect(left).toEqual([]);
});

describe("prepareImage: build", () => {
  it("builds with our labels, build-args and target, logs progress in a group and counts the steps", async () => {
    const dir = context(
      [
        "FROM scratch AS base",
        "COPY busybox /bin/busybox",
        INSTALL,
        "ARG GREETING=unset",
        'RUN echo "$GREETING" > /greeting',
        "FROM base AS app",
        "RUN echo app-stage > /stage",
        "FROM base AS other",
        "RUN echo other-stage > /stage",
      ].join("\n"),
    );
    const { log, lines, groups } = recordingLogger();
    const t = tag();
    const image = await prepareImage(
      docker,
      build(dir, { buildArgs: { GREETING: "hello-e2e" }, target: "app" }),
      labels,
      log,
      {
        tag: t,
      },
    );

    expect(image).toMatchObject({ ref: t, built: true });
    expect(image.imageId).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(groups).toEqual([`Build ${t}`]);
    const inspect = await docker.getImage(t).inspect();
    expect(inspect.Id).toBe(image.imageId);
    expect(inspect.Config.Labels).toMatchObject(imageLabels(labels));
    expect(inspect.Config.Labels).not.toHaveProperty("ml-preview.run");
    const history = await historyOf(image.imageId);
    expect(history).toContain("GREETING=hello-e2e");
    expect(history).toContain("echo app-stage");
    expect(history).not.toContain("echo other-stage");
    expect(image.totalSteps).toBe(7);
    expect(image.buildMs).toBeGreaterThan(0);
    expect(lines).toContain('Step 5/7 : RUN echo "$GREETING" > /greeting');
    expect(lines.some((l) => /^Built .* steps from cache/.test(l))).toBe(true);

    // The same build again: every step that runs something comes from the engine's cache.
    const again = await prepareImage(
      docker,
      build(dir, { buildArgs: { GREETING: "hello-e2e" }, target: "app" }),
      labels,
      log,
      {
        tag: t,
      },
    );
    expect(again.cachedSteps).toBeGreaterThanOrEqual(4);
  });

  it("rebuilds an unchanged app in a later run as the same image, every step (labels too) from the cache", async () => {
    const dir = context(
      ["FROM scratch", "COPY busybox /bin/busybox", INSTALL, "RUN echo layer > /layer"].join("\n"),
    );
    const t = tag();
    const first = await prepareImage(docker, build(dir), labels, recordingLogger().log, { tag: t });
    const nextRun = { ...labels, "ml-preview.run": `${RUN}-next` };
    const { log, lines } = recordingLogger();
    const second = await prepareImage(docker, build(dir), nextRun, log, { tag: t });
    expect(second.imageId).toBe(first.imageId);
    expect(second.cachedSteps).toBe(second.totalSteps! - 1); // all but FROM scratch, which is no step to cache
    // The engine ran nothing: no step of the rebuild started a container.
    expect(lines.filter((l) => l.includes("Running in"))).toEqual([]);
  });

  it("replaces the tag's previous image when the app changed, keeping the shared layers as cache", async () => {
    const dir = context(
      ["FROM scratch", "COPY busybox /bin/busybox", INSTALL, "COPY app.txt /app.txt"].join("\n"),
      { "app.txt": "v1" },
    );
    const t = tag();
    const first = await prepareImage(docker, build(dir), labels, recordingLogger().log, { tag: t });
    writeFileSync(join(dir, "app.txt"), "v2");
    const nextRun = { ...labels, "ml-preview.run": `${RUN}-next` };
    const second = await prepareImage(docker, build(dir), nextRun, recordingLogger().log, { tag: t });
    expect(second.imageId).not.toBe(first.imageId);
    expect(second.cachedSteps).toBe(2);
    await expect(docker.getImage(first.imageId).inspect()).rejects.toMatchObject({ statusCode: 404 });
    await docker.getImage(second.imageId).remove({ force: true });
  });

  it("stops a build when its signal aborts, leaving no build container behind", async () => {
    const marker = `cancel-${RUN}`;
    // The step sleeps 10 min, longer than the test's own timeout: only the abort ends the build in time.
    const dir = context(
      ["FROM scratch", "COPY busybox /bin/busybox", INSTALL, `RUN echo ${marker}; sleep 600`].join("\n"),
    );
    const controller = new AbortController();
    const { log, lines } = recordingLogger();
    const pending = prepareImage(docker, build(dir), labels, log, { tag: tag(), signal: controller.signal });
    await waitFor("the step to be running", () => lines.some((l) => l.includes(marker)));
    controller.abort();
    const err = await failure(pending);
    expect(err.code).toBe("CANCELLED");
    const left = () =>
      docker.listContainers({ all: true }).then((l) => l.filter((c) => c.Command.includes(marker)));
    await waitFor("the build container to be gone", async () => (await left()).length === 0);
  });

  it("stops a BuildKit build when its signal aborts: its step's process ends, the session is closed", async () => {
    const marker = `bk-cancel-${RUN}`;
    const dir = context(
      // Not `sleep` last: the shell would exec it, and the marker leave the process's command line.
      ["FROM scratch", "COPY busybox /bin/busybox", INSTALL, `RUN sleep 60; echo ${marker}`].join("\n"),
    );
    const pipes = enginePipes();
    const controller = new AbortController();
    const pending = buildWithEngine(docker, buildKitRequest(dir), recordingLogger().log, controller.signal);
    // The step runs under the engine's BuildKit, a process of this machine: abort once it is there.
    await expect
      .poll(() => processesWith(marker).length, { timeout: 60_000, interval: 100 })
      .toBeGreaterThan(0);
    controller.abort();
    const err = await failure(pending);
    expect(err.code).toBe("CANCELLED");
    await expect.poll(() => processesWith(marker), { timeout: 30_000, interval: 200 }).toEqual([]);
    await expect.poll(enginePipes).toBe(pipes);
  }, 120_000);

  it("ends a BuildKit build at once when a file fails while the engine pulls it, naming the file", async () => {
    const dir = context("FROM scratch\nCOPY . /ctx\n");
    const big = join(dir, "z-weights.bin");
    writeFileSync(big, "");
    truncateSync(big, 1 << 30);
    const pipes = enginePipes();
    const pending = buildWithEngine(docker, buildKitRequest(dir), recordingLogger().log);
    // The session opens the file when the engine asks for it: cut it short then.
    await expect.poll(() => openedByUs(big), { timeout: 60_000, interval: 20 }).toBe(true);
    truncateSync(big, 1 << 20);
    const err = await failure(pending);
    expect(err.code).toBe("DOCKER_CONTEXT");
    expect(err.message).toMatch(/reading z-weights\.bin failed \(it shrank from 1073741824 to \d+ bytes/);
    await expect.poll(enginePipes).toBe(pipes);
  }, 120_000);

  it("names the failing step and carries its last output lines; no intermediate container stays", async () => {
    const marker = `marker-${RUN}`;
    const dir = context(
      [
        "FROM scratch",
        "COPY busybox /bin/busybox",
        INSTALL,
        `RUN echo ${marker}-out; echo ${marker}-err >&2; exit 3`,
        "RUN echo never",
      ].join("\n"),
    );
    const err = await failure(
      prepareImage(docker, build(dir), labels, recordingLogger().log, { tag: tag() }),
    );
    expect(err.step).toBe("build");
    expect(err.code).toBe("DOCKER_BUILD_FAILED");
    expect(err.message).toContain(`at Step 4/5 : RUN echo ${marker}-out`);
    expect(err.message).toContain("returned a non-zero code: 3");
    expect(err.logLines).toEqual(expect.arrayContaining([`${marker}-out`, `${marker}-err`]));
    const all = await docker.listContainers({ all: true });
    expect(all.filter((c) => c.Command.includes(marker))).toEqual([]);
  });

  it("reports what the engine rejects before any step runs: a Dockerfile syntax error, an unknown target", async () => {
    const syntax = context("FROM scratch\nRUNN echo typo\n");
    const typo = await failure(
      prepareImage(docker, build(syntax), labels, recordingLogger().log, { tag: tag() }),
    );
    expect(typo.step).toBe("build");
    expect(typo.message).toMatch(/unknown instruction: RUNN/i);

    const dir = context("FROM scratch AS app\nCOPY busybox /bin/busybox\n");
    const target = await failure(
      prepareImage(docker, build(dir, { target: "nope" }), labels, recordingLogger().log, { tag: tag() }),
    );
    expect(target.message).toMatch(/target nope/);
  });

  it("sends every file byte for byte: the engine's sha256 of large and small files matches ours", async () => {
    // Enough large files to cycle the read-buffer pool many times over (see BufferPool).
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 6; i++) files[`weights-${i}.bin`] = randomBytes((5 << 20) + i * 4099);
    for (let i = 0; i < 20; i++) files[`src-${i}.py`] = randomBytes(100 + i * 37);
    const names = Object.keys(files).sort();
    const dockerfile = [
      "FROM scratch",
      "COPY busybox /bin/busybox",
      INSTALL,
      "COPY . /ctx",
      `RUN cd /ctx && sha256sum ${names.join(" ")}`,
    ].join("\n");
    const dir = context(dockerfile);
    for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name), bytes);
    const { log, lines } = recordingLogger();
    await buildWithEngine(
      docker,
      { context: dir, dockerfile: "Dockerfile", buildArgs: {}, tag: tag(), labels },
      log,
    );
    const engine = new Map(
      lines.map((l) => /^([0-9a-f]{64})\s+(\S+)$/.exec(l.trim())).flatMap((m) => (m ? [[m[2]!, m[1]!]] : [])),
    );
    for (const name of names) {
      expect(engine.get(name), name).toBe(createHash("sha256").update(files[name]!).digest("hex"));
    }
  });

  it("honours .dockerignore: an ignored 50 MB file is not sent, an exception is", async () => {
    const dockerfile = [
      "FROM scratch",
      "COPY busybox /bin/busybox",
      INSTALL,
      "COPY . /ctx",
      "RUN test ! -e /ctx/model.bin && test ! -e /ctx/data/raw.csv && test -e /ctx/data/keep.csv && test -e /ctx/app.py",
    ].join("\n");
    const dir = context(dockerfile, {
      "app.py": "print('hi')\n",
      ".dockerignore": "*.bin\ndata\n!data/keep.csv\n",
    });
    writeFileSync(join(dir, "model.bin"), "");
    truncateSync(join(dir, "model.bin"), 50 * 1024 * 1024);
    mkdirSync(join(dir, "data"));
    writeFileSync(join(dir, "data", "raw.csv"), "x".repeat(1000));
    writeFileSync(join(dir, "data", "keep.csv"), "k");

    const request = { context: dir, dockerfile: "Dockerfile", buildArgs: {}, tag: tag(), labels };
    const ignored = await buildWithEngine(docker, request, recordingLogger().log);
    expect(ignored.contextBytes).toBeLessThan(5 * 1024 * 1024);

    rmSync(join(dir, ".dockerignore"));
    const control = await failure(buildWithEngine(docker, request, recordingLogger().log));
    expect(control.message).toContain("RUN test ! -e /ctx/model.bin");
  });

  it("sends exactly the files the docker CLI sends for the same .dockerignore", async () => {
    const ignore = [
      "# comment",
      "*.log",
      "!important.log",
      "data",
      "!data/keep/**",
      "**/*.pyc",
      "docs/*.md",
      "!docs/README.md",
      "Dockerfile",
      ".dockerignore",
      "/abs-ignored",
      "sub/../normalized",
    ].join("\n");
    const files = [
      "important.log",
      "a.log",
      "nested/a.log",
      "data/x.bin",
      "data/keep/a/b.txt",
      "data/other/c.txt",
      "src/m.py",
      "src/m.pyc",
      "src/deep/n.pyc",
      "docs/README.md",
      "docs/guide.md",
      "docs/img/p.png",
      "abs-ignored",
      "normalized",
      "app.py",
    ];
    const dockerfile = [
      "FROM scratch",
      "COPY busybox /bin/busybox",
      INSTALL,
      "COPY . /ctx",
      `RUN find /ctx | sort | sed 's/^/ctx-list /'`,
    ].join("\n");
    const dir = context(dockerfile, { ".dockerignore": ignore });
    for (const file of files) {
      mkdirSync(join(dir, file, ".."), { recursive: true });
      writeFileSync(join(dir, file), file);
    }
    const listed = (lines: string[]) => lines.filter((l) => l.startsWith("ctx-list ")).map((l) => l.slice(9));

    const { log, lines } = recordingLogger();
    const request = {
      context: dir,
      dockerfile: "Dockerfile",
      buildArgs: {},
      tag: tag(),
      labels,
      noCache: true,
    };
    await buildWithEngine(docker, request, log);
    const cliTag = tag();
    const cli = execFileSync(
      "docker",
      ["build", "--no-cache", "--label", `ml-preview.run=${RUN}`, "-t", cliTag, dir],
      {
        env: { ...process.env, DOCKER_BUILDKIT: "0" },
        encoding: "utf8",
        stdio: ["ignore", "pipe", "ignore"],
      },
    );
    const ours = listed(lines);
    expect(ours).toContain("/ctx/important.log");
    expect(ours).toContain("/ctx/data/keep/a/b.txt");
    expect(ours).not.toContain("/ctx/data/other/c.txt");
    expect(ours).toEqual(listed(cli.split("\n")));
  });

  it("completes a step that runs over 30 s, with the classic builder and with BuildKit", async () => {
    const dockerfile = [
      "FROM scratch",
      "COPY busybox /bin/busybox",
      INSTALL,
      `RUN echo ${RUN}; sleep 32; echo slept`,
    ].join("\n");
    const run = (builder: "classic" | "buildkit") =>
      buildWithEngine(
        docker,
        {
          context: context(dockerfile),
          dockerfile: "Dockerfile",
          buildArgs: {},
          tag: tag(),
          labels,
          builder,
          noCache: true,
        },
        recordingLogger().log,
      );
    const [classic, buildkit] = await Promise.all([run("classic"), run("buildkit")]);
    for (const result of [classic, buildkit]) {
      expect(result.buildMs).toBeGreaterThanOrEqual(32_000);
      expect(result.imageId).toMatch(/^sha256:/);
    }
    expect(classic.builder).toBe("classic");
    expect(buildkit.builder).toBe("buildkit");
  }, 150_000);

  it("switches to BuildKit for BuildKit-only syntax, and still names a failing step", async () => {
    const ok = context(
      [
        "FROM scratch",
        "COPY busybox /bin/busybox",
        INSTALL,
        "RUN --mount=type=cache,target=/cache echo cached > /cache/x && cp /cache/x /x",
      ].join("\n"),
    );
    const { log, lines } = recordingLogger();
    const image = await prepareImage(docker, build(ok), labels, log, { tag: tag() });
    expect(image.built).toBe(true);
    expect(lines).toContain("The Dockerfile uses BuildKit-only syntax: building with BuildKit.");
    expect(image.totalSteps).toBe(3);

    const bad = context(
      [
        "FROM scratch",
        "COPY busybox /bin/busybox",
        INSTALL,
        "RUN --mount=type=cache,target=/c echo bk-out; echo bk-err >&2; exit 4",
      ].join("\n"),
    );
    const err = await failure(
      prepareImage(docker, build(bad), labels, recordingLogger().log, { tag: tag() }),
    );
    expect(err.message).toContain("at Step 3/3 : RUN --mount=type=cache,target=/c echo bk-out");
    expect(err.message).toContain("exit code: 4");
    expect(err.logLines).toEqual(expect.arrayContaining(["bk-out", "bk-err"]));
  });

  it("says which registry is unreachable when a base image cannot be pulled", async () => {
    const classic = context("FROM python:3.12-slim\nRUN echo hi\n");
    const err = await failure(
      prepareImage(docker, build(classic), labels, recordingLogger().log, { tag: tag() }),
    );
    expect(err.step).toBe("build");
    expect(err.code).toBe("DOCKER_REGISTRY_UNREACHABLE");
    expect(err.message).toContain("Step 1/2 : FROM python:3.12-slim");
    expect(err.message).toContain("registry-1.docker.io (Docker Hub) is unreachable");
    expect(err.message).toMatch(/Let the runner reach registry-1\.docker\.io/);

    const buildkit = context("FROM python:3.12-slim\nRUN --mount=type=cache,target=/c echo hi\n");
    const bkErr = await failure(
      prepareImage(docker, build(buildkit), labels, recordingLogger().log, { tag: tag() }),
    );
    expect(bkErr.code).toBe("DOCKER_REGISTRY_UNREACHABLE");
    expect(bkErr.message).toContain("The build failed at FROM python:3.12-slim");
    expect(bkErr.message).toContain("registry-1.docker.io (Docker Hub) is unreachable");
  });
});

describe("prepareImage: image", () => {
  it("uses an image the engine already has, without pulling", async () => {
    const built = await buildWithEngine(
      docker,
      {
        context: context("FROM scratch\nCOPY busybox /bin/busybox\n"),
        dockerfile: "Dockerfile",
        buildArgs: {},
        tag: tag(),
        labels,
      },
      recordingLogger().log,
    );
    const ref = `ml-preview-e2e/${RUN}:local-image`;
    await docker.getImage(built.imageId).tag({ repo: `ml-preview-e2e/${RUN}`, tag: "local-image" });
    const { log, lines } = recordingLogger();
    const image = await prepareImage(docker, { kind: "image", image: ref }, labels, log);
    expect(image).toMatchObject({ imageId: built.imageId, ref, built: false });
    expect(lines.some((l) => l.startsWith("Pulling"))).toBe(false);
  });

  it("names the unreachable registry when the image must be pulled, with no stack trace", async () => {
    const absent = await docker
      .getImage("python:3.12-slim")
      .inspect()
      .then(
        () => false,
        () => true,
      );
    const ref = absent ? "python:3.12-slim" : `python:3.12-slim-absent-${RUN}`;
    const err = await failure(
      prepareImage(docker, { kind: "image", image: ref }, labels, recordingLogger().log),
    );
    expect(err.step).toBe("pull");
    expect(err.code).toBe("DOCKER_REGISTRY_UNREACHABLE");
    expect(err.message).toContain(
      `Cannot pull the image ${ref}: the registry registry-1.docker.io (Docker Hub) is unreachable`,
    );
    expect(err.message).not.toMatch(/\n\s+at /);

    const ghcr = await failure(
      prepareImage(docker, { kind: "image", image: "ghcr.io/octo/app:1" }, labels, recordingLogger().log),
    );
    expect(ghcr.message).toContain("the registry ghcr.io is unreachable");
  });

  it("rejects a malformed image reference with what it must look like", async () => {
    const err = await failure(
      prepareImage(docker, { kind: "image", image: "Not/A Valid:Ref" }, labels, recordingLogger().log),
    );
    expect(err.step).toBe("pull");
    expect(err.message).toMatch(/name\[:tag\]/);
  });
});

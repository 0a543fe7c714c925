import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Docker from "dockerode";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { RegistryAuth } from "../../src/config/types.js";
import { buildWithEngine } from "../../src/docker/build.js";
import { CACHE_BUILDER } from "../../src/docker/cache/gha.js";
import { PULL_MARGIN_BYTES, PULL_UNPACK_FACTOR } from "../../src/docker/disk.js";
import { prepareImage } from "../../src/docker/image.js";
import { registryImageSize } from "../../src/docker/registry-size.js";
import type { BuildSource, PreviewLabels } from "../../src/docker/types.js";
import { PreviewError } from "../../src/errors.js";
import type { Logger } from "../../src/log.js";
import { busyboxContext, requireDocker } from "../support/docker.js";
import { freePort } from "../support/ports.js";

const RUN = `e2e-cache-${randomBytes(4).toString("hex")}`;
const REPO = `ml-preview-e2e/${RUN}`;
const labels: PreviewLabels = {
  "ml-preview.repo": "octo/e2e-cache",
  "ml-preview.pr": "12",
  "ml-preview.run": RUN,
  "ml-preview.name": "app",
};
const INSTALL = 'RUN ["/bin/busybox", "--install", "-s", "/bin"]';
// bcrypt of "preview-pass-1" (docker-registry's htpasswd accepts bcrypt only); a test fixture, not a secret.
const USER = "tester";
const PASSWORD = "preview-pass-1";
const HTPASSWD = `${USER}:$2b$04$QxYcyCAdCzkL0VTHibEmD.SrcqZPF9Aw/NoOvCt7YnGR84/hhf0/W\n`;
const good: RegistryAuth = { username: USER, password: PASSWORD };

let docker: Docker;
let registry: { host: string; process: ChildProcess; dir: string };
const dirs: string[] = [];

function recordingLogger(onInfo?: (line: string) => void) {
  const lines: string[] = [];
  const warnings: string[] = [];
  const debugs: string[] = [];
  /** Every line in the order it was said, warnings as "warning: …". */
  const all: string[] = [];
  const log: Logger = {
    info: (m) => {
      lines.push(m);
      all.push(m);
      onInfo?.(m);
    },
    warning: (m) => {
      warnings.push(m);
      all.push(`warning: ${m}`);
    },
    debug: (m) => void debugs.push(m),
    group: (_title, fn) => fn(),
  };
  return { log, lines, warnings, debugs, all };
}

function context(dockerfile: string, files: Record<string, string> = {}): string {
  const dir = busyboxContext(dockerfile, files);
  dirs.push(dir);
  return dir;
}

function buildSource(
  dir: string,
  cache: Extract<BuildSource, { kind: "build" }>["cache"],
  auth?: RegistryAuth,
): BuildSource {
  return { kind: "build", context: dir, dockerfile: "Dockerfile", buildArgs: {}, cache, registryAuth: auth };
}

async function failure(promise: Promise<unknown>): Promise<PreviewError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PreviewError);
  return err as PreviewError;
}

/** Debian's docker-registry on 127.0.0.1 with htpasswd auth and its storage in a temp dir. */
async function startRegistry() {
  const dir = mkdtempSync(join(tmpdir(), "ml-preview-registry-"));
  const port = await freePort();
  writeFileSync(join(dir, "htpasswd"), HTPASSWD);
  writeFileSync(
    join(dir, "config.yml"),
    [
      "version: 0.1",
      "log: { level: warn }",
      `storage: { filesystem: { rootdirectory: ${join(dir, "data")} }, delete: { enabled: true } }`,
      `http: { addr: "127.0.0.1:${port}", secret: ${RUN} }`,
      `auth: { htpasswd: { realm: ml-preview-test, path: ${join(dir, "htpasswd")} } }`,
    ].join("\n"),
  );
  const child = spawn("/usr/bin/docker-registry", ["serve", join(dir, "config.yml")], { stdio: "ignore" });
  const host = `127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    const status = await fetch(`http://${host}/v2/`).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 401) return { host, process: child, dir };
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill();
  throw new Error("docker-registry did not start");
}

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}
interface ImageManifest {
  schemaVersion: number;
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
}
const MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json";
const basicAuth = () => `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString("base64")}`;

/** The registry's own manifest of repository:tag (docker-registry's htpasswd auth is HTTP Basic). */
async function registryManifest(repository: string, tag: string): Promise<ImageManifest> {
  const res = await fetch(`http://${registry.host}/v2/${repository}/manifests/${tag}`, {
    headers: { accept: MANIFEST_V2, authorization: basicAuth() },
  });
  expect(res.status).toBe(200);
  return (await res.json()) as ImageManifest;
}

async function putManifest(repository: string, tag: string, manifest: ImageManifest): Promise<void> {
  const res = await fetch(`http://${registry.host}/v2/${repository}/manifests/${tag}`, {
    method: "PUT",
    headers: { "content-type": MANIFEST_V2, authorization: basicAuth() },
    body: JSON.stringify(manifest),
  });
  expect(res.status).toBe(201);
}

/** Removes every local image of this test run, with the intermediate images only they use. */
async function removeLocalImages(): Promise<void> {
  const refs = [REPO, `${registry.host}/*`, `${registry.host}/*/*`];
  for (const reference of refs) {
    for (const image of await docker.listImages({ filters: { reference: [reference] } })) {
      await docker
        .getImage(image.Id)
        .remove({ force: true })
        .catch(() => {});
    }
  }
  const ours = `ml-preview.repo=${labels["ml-preview.repo"]}`; // images carry no run label (imageLabels)
  for (const image of await docker.listImages({ all: true, filters: { label: [ours] } })) {
    await docker
      .getImage(image.Id)
      .remove({ force: true })
      .catch(() => {});
  }
}

async function imagesWithHistory(marker: string): Promise<string[]> {
  const found: string[] = [];
  for (const image of await docker.listImages({ all: true })) {
    const history = (await docker
      .getImage(image.Id)
      .history()
      .catch(() => [])) as { CreatedBy: string }[];
    if (history.some((h) => h.CreatedBy.includes(marker))) found.push(image.Id);
  }
  return found;
}

beforeAll(async () => {
  docker = await requireDocker();
  registry = await startRegistry();
});

afterAll(async () => {
  await removeLocalImages();
  registry?.process.kill();
  if (registry) rmSync(registry.dir, { recursive: true, force: true });
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  expect(await docker.listContainers({ all: true, filters: { label: [`ml-preview.run=${RUN}`] } })).toEqual(
    [],
  );
});

describe("image from a private registry", () => {
  let ref: string;

  beforeAll(async () => {
    const built = await buildWithEngine(
      docker,
      {
        // A layer of its own (random bytes), so the pull below really downloads something.
        context: context("FROM scratch\nCOPY busybox /bin/busybox\nCOPY weights.bin /weights.bin\n", {
          "weights.bin": randomBytes(3_000_000).toString("base64"),
        }),
        dockerfile: "Dockerfile",
        buildArgs: {},
        tag: `${REPO}:seed`,
        labels,
      },
      recordingLogger().log,
    );
    ref = `${registry.host}/private/app:${RUN}`;
    await docker.getImage(built.imageId).tag({ repo: `${registry.host}/private/app`, tag: RUN });
    const push = await docker.getImage(ref).push({ authconfig: { ...good, serveraddress: registry.host } });
    await new Promise((resolve, reject) =>
      docker.modem.followProgress(push, (err) => (err ? reject(err) : resolve(null))),
    );
    await docker.getImage(ref).remove();
    await docker.getImage(`${REPO}:seed`).remove();
  });

  it("pulls it with registry credentials, with progress in the log", async () => {
    const { log, lines } = recordingLogger();
    const image = await prepareImage(docker, { kind: "image", image: ref, registryAuth: good }, labels, log);
    expect(image).toMatchObject({ ref, built: false });
    expect((await docker.getImage(ref).inspect()).Id).toBe(image.imageId);
    expect(lines).toContain(`Pulling ${ref} from ${registry.host}...`);
    expect(lines.some((l) => l.startsWith("Status: Downloaded newer image"))).toBe(true);
    // The byte summary, as builds sum up theirs: at least the image's own layer (4 MB of base64, ~3 MB gzipped) was downloaded.
    const summary = lines.find((l) => l.startsWith("Downloaded "));
    expect(summary).toMatch(
      /^Downloaded \d+\.\d MB in \d layers?( \(\d already present\))? in \d+\.\d s \(\d+\.\d MB\/s\)\.$/,
    );
    expect(Number(summary?.split(" ")[1])).toBeGreaterThanOrEqual(2.5);
    await docker.getImage(ref).remove();
  });

  it("checks the disk with the image's size as the registry states it, asked with the pull's credentials", async () => {
    const manifest = await registryManifest(`private/app`, RUN);
    const stated = [manifest.config, ...manifest.layers].reduce((sum, d) => sum + d.size, 0);
    const { log, debugs } = recordingLogger();
    const credentials = { auth: good, authconfig: { ...good, serveraddress: registry.host } };
    const version = await docker.version();
    expect(await registryImageSize(docker, ref, credentials, log)).toEqual({
      compressedBytes: stated,
      platform: `${version.Os}/${version.Arch}`,
    });
    expect(debugs).toEqual([]);
    // Without credentials the registry says nothing: one debug line, no size.
    expect(
      await registryImageSize(docker, ref, { auth: undefined, authconfig: undefined }, log),
    ).toBeUndefined();
    expect(debugs).toHaveLength(1);
    expect(debugs[0]).toContain(`The registry did not say how large ${ref} is (`);
    expect(debugs[0]).toContain("); the disk check uses the pull margin alone.");
  });

  it("warns before the pull, naming the registry's size and the runner's fix, when the data root lacks the space", async () => {
    // The registry states a 1 TB layer (its manifest says so; the blob is the real small one): an image
    // larger than this machine's free disk, as a torch image is for a runner with 14 GB free.
    const manifest = await registryManifest(`private/app`, RUN);
    manifest.layers[0]!.size = 1e12;
    const huge = `${registry.host}/private/app:${RUN}-huge`;
    await putManifest(`private/app`, `${RUN}-huge`, manifest);
    const stated = [manifest.config, ...manifest.layers].reduce((sum, d) => sum + d.size, 0);
    const { log, warnings, all } = recordingLogger();
    await prepareImage(docker, { kind: "image", image: huge, registryAuth: good }, labels, log).catch(
      () => undefined, // the engine may refuse a blob shorter than its manifest says: not what is tested here
    );
    await docker
      .getImage(huge)
      .remove()
      .catch(() => undefined);
    expect(warnings).toHaveLength(1);
    const needed = ((stated * PULL_UNPACK_FACTOR + PULL_MARGIN_BYTES) / 1e9).toFixed(1);
    expect(warnings[0]).toContain(
      `Pulling ${huge} (${(stated / 1e9).toFixed(2)} GB compressed for linux/amd64, as its registry says) needs about ${needed} GB of disk`,
    );
    expect(warnings[0]).toMatch(/data root \/\S+ has \d+\.\d GB free/);
    expect(warnings[0]).toMatch(/sudo rm -rf \/usr\/share\/dotnet .*larger runner/);
    // Said before the pull starts, not after it failed half-way.
    expect(all.indexOf(`warning: ${warnings[0]}`)).toBeLessThan(
      all.indexOf(`Pulling ${huge} from ${registry.host}...`),
    );
  });

  it("says the credentials were refused, or missing, without echoing the password", async () => {
    const wrong = await failure(
      prepareImage(
        docker,
        { kind: "image", image: ref, registryAuth: { username: USER, password: "not-the-pass" } },
        labels,
        recordingLogger().log,
      ),
    );
    expect(wrong.code).toBe("DOCKER_REGISTRY_AUTH");
    expect(wrong.message).toContain(`${registry.host} refused the credentials for ${ref}`);
    expect(wrong.message).not.toContain("not-the-pass");

    const anonymous = recordingLogger();
    const none = await failure(prepareImage(docker, { kind: "image", image: ref }, labels, anonymous.log));
    // The size could not be asked for either: the disk check kept its margin, with one debug line.
    expect(anonymous.warnings).toEqual([]);
    expect(anonymous.debugs.filter((d) => d.startsWith("The registry did not say how large"))).toHaveLength(
      1,
    );
    expect(none.code).toBe("DOCKER_REGISTRY_AUTH");
    expect(none.message).toContain("requires credentials");
    expect(none.message).toContain("registry-username and registry-password");
  });

  it("is a BuildKit build's base: the engine asks the build's session for the credentials of its registry", async () => {
    const request = (credentials?: { server: string; auth: RegistryAuth }) => ({
      context: context(`FROM ${ref}\nCOPY app.txt /app.txt\n`, { "app.txt": "on the private base\n" }),
      dockerfile: "Dockerfile",
      buildArgs: {},
      tag: `${REPO}:bk-private`,
      labels,
      builder: "buildkit" as const,
      noCache: true,
      credentials,
    });
    const built = await buildWithEngine(
      docker,
      request({ server: registry.host, auth: good }),
      recordingLogger().log,
    );
    expect(built.builder).toBe("buildkit");
    const history = await docker.getImage(built.imageId).history();
    expect(history.length).toBeGreaterThanOrEqual(3);
    // Credentials for another registry are not handed out: the engine is refused, as without any.
    for (const credentials of [undefined, { server: "registry.example:5000", auth: good }]) {
      const refused = await failure(buildWithEngine(docker, request(credentials), recordingLogger().log));
      expect(refused.message).toContain(registry.host);
      expect(refused.message).not.toContain(PASSWORD);
    }
  });

  it("says a missing image was not found, and an unreachable registry by name", async () => {
    const missing = `${registry.host}/private/nope:1`;
    const notFound = await failure(
      prepareImage(
        docker,
        { kind: "image", image: missing, registryAuth: good },
        labels,
        recordingLogger().log,
      ),
    );
    expect(notFound.code).toBe("DOCKER_IMAGE_NOT_FOUND");
    expect(notFound.message).toContain(`The image ${missing} was not found on ${registry.host}`);

    const closed = `127.0.0.1:${await freePort()}`;
    const down = await failure(
      prepareImage(docker, { kind: "image", image: `${closed}/app:1` }, labels, recordingLogger().log),
    );
    expect(down.code).toBe("DOCKER_REGISTRY_UNREACHABLE");
    expect(down.message).toContain(
      `the registry ${closed} is unreachable from the Docker engine (connection refused)`,
    );
  });
});

describe("cache: registry:<ref>", () => {
  it("rebuilds from the registry cache after the local images are wiped, the expensive step a cache hit", async () => {
    const marker = `expensive-${RUN}`;
    const dockerfile = [
      "FROM scratch",
      "COPY busybox /bin/busybox",
      INSTALL,
      `RUN sleep 2 && echo ${marker} > /expensive`,
      "COPY app.txt /app.txt",
      'CMD ["cat", "/app.txt"]',
    ].join("\n");
    const dir = context(dockerfile, { "app.txt": "v1\n" });
    const cache = { kind: "registry" as const, ref: `${registry.host}/cache/app:preview-cache` };
    const tag = `${REPO}:cache-test`;

    const cold = recordingLogger();
    const first = await prepareImage(docker, buildSource(dir, cache, good), labels, cold.log, { tag });
    expect(cold.warnings).toEqual([]);
    expect(cold.lines).toContain(`No build cache at ${cache.ref} yet: this build fills it.`);
    expect(cold.lines.some((l) => l.startsWith(`Pushed the build cache to ${cache.ref}`))).toBe(true);

    // Wipe: our tags, the pulled cache image and every intermediate image that holds the expensive layer.
    await removeLocalImages();
    expect(await imagesWithHistory(marker)).toEqual([]);

    const warm = recordingLogger();
    const second = await prepareImage(docker, buildSource(dir, cache, good), labels, warm.log, { tag });
    expect(warm.warnings).toEqual([]);
    const expensive = warm.lines.findIndex((l) => l.includes(`RUN sleep 2 && echo ${marker}`));
    expect(expensive).toBeGreaterThan(-1);
    expect(warm.lines[expensive + 1]).toBe(" ---> Using cache");
    expect(second.cachedSteps).toBeGreaterThanOrEqual(3);
    expect(second.totalSteps).toBe(6);

    // The expensive step ran in the cold build and came from the registry in the warm one (how much
    // time that saves is bench/'s rebuild row).
    expect(first.buildMs).toBeGreaterThanOrEqual(2_000);
    expect(cold.lines.some((l) => l.includes(`RUN sleep 2 && echo ${marker}`))).toBe(true);
  });

  it("a read-only run (a PR's code on a branch) pulls the cache image and never pushes it", async () => {
    const dir = context(
      ["FROM scratch", "COPY busybox /bin/busybox", `RUN ["/bin/busybox", "true"]`].join("\n"),
    );
    const cache = { kind: "registry" as const, ref: `${registry.host}/cache/read-only:${RUN}` };
    const { log, lines, warnings } = recordingLogger();
    const image = await prepareImage(docker, buildSource(dir, cache, good), labels, log, {
      tag: `${REPO}:registry-read-only`,
      cacheReadOnly: "this issue_comment run builds pull request #12's code",
    });
    expect(image.built).toBe(true);
    expect(warnings).toEqual([]);
    expect(lines).toContain(`No build cache at ${cache.ref} yet.`);
    expect(lines.some((l) => l.startsWith("Pushed the build cache"))).toBe(false);
    const res = await fetch(`http://${registry.host}/v2/cache/read-only/manifests/${RUN}`, {
      headers: { accept: MANIFEST_V2, authorization: basicAuth() },
    });
    expect(res.status).toBe(404);
  });

  it("builds anyway, with one warning, when the cache registry refuses the credentials", async () => {
    const dir = context(
      ["FROM scratch", "COPY busybox /bin/busybox", `RUN ["/bin/busybox", "true"]`].join("\n"),
    );
    const cache = { kind: "registry" as const, ref: `${registry.host}/cache/other:c` };
    const { log, warnings } = recordingLogger();
    const image = await prepareImage(
      docker,
      buildSource(dir, cache, { username: USER, password: "wrong-pass" }),
      labels,
      log,
      {
        tag: `${REPO}:bad-cache-creds`,
      },
    );
    expect(image.built).toBe(true);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`Could not read the build cache ${cache.ref}`);
    expect(warnings[0]).not.toContain("wrong-pass");
  });
});

describe("cache: gha", () => {
  let shimDir: string;
  let shimImage: string;
  const callsFile = () => join(shimDir, "calls.jsonl");
  const calls = (): { argv: string[]; env: Record<string, string> }[] =>
    existsSync(callsFile())
      ? readFileSync(callsFile(), "utf8")
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l))
      : [];

  beforeAll(async () => {
    const seed = await buildWithEngine(
      docker,
      {
        context: context("FROM scratch\nCOPY busybox /bin/busybox\n"),
        dockerfile: "Dockerfile",
        buildArgs: {},
        tag: `${REPO}:shim-seed`,
        labels,
      },
      recordingLogger().log,
    );
    shimImage = seed.imageId;
    shimDir = mkdtempSync(join(tmpdir(), "ml-preview-docker-shim-"));
    dirs.push(shimDir);
    // A fake `docker` CLI with a buildx plugin: records argv and the cache env, and for `buildx build`
    // tags an existing image as the requested tag (standing in for `--load`) and prints plain progress.
    writeFileSync(
      join(shimDir, "docker"),
      `#!/usr/bin/env node
const fs = require("node:fs");
const { execFileSync } = require("node:child_process");
const argv = process.argv.slice(2);
const env = {};
for (const k of Object.keys(process.env)) if (/^(ACTIONS_|BUILDX_|GITHUB_|ML_PREVIEW_BUILD_SECRET_)/.test(k)) env[k] = process.env[k];
fs.appendFileSync(${JSON.stringify(callsFile())}, JSON.stringify({ argv, env }) + "\\n");
const sub = argv.slice(0, 2).join(" ");
if (sub === "buildx version") { console.log("github.com/docker/buildx v0.99.0-shim"); process.exit(0); }
if (sub === "buildx inspect") {
  if (argv[2]) { console.error("ERROR: no builder " + argv[2] + " found"); process.exit(1); }
  console.log("Name:   default\\nDriver: docker\\n"); process.exit(0);
}
if (sub === "buildx create") { console.log(argv[3]); process.exit(0); }
if (sub === "buildx rm") process.exit(0);
if (sub === "buildx build") {
  const at = (flag) => argv[argv.indexOf(flag) + 1];
  if (process.env.SHIM_BUILD_FAILS) { console.error("#9 ERROR: failed to fetch cache: shim says no"); process.exit(1); }
  if (process.env.SHIM_DOCKERFILE_FAILS) {
    console.error('#7 [2/2] RUN false\\n#7 0.201 model download refused\\n#7 ERROR: process "/bin/sh -c false" did not complete successfully: exit code: 1');
    console.error('ERROR: failed to solve: process "/bin/sh -c false" did not complete successfully: exit code: 1');
    process.exit(1);
  }
  if (process.env.SHIM_BUILD_HANGS) {
    fs.writeFileSync(${JSON.stringify(join(shimDir, "buildx.pid"))}, String(process.pid));
    console.error("#5 [1/2] RUN sleep 3600");
    setInterval(() => {}, 60000);
    return;
  }
  execFileSync("/usr/bin/docker", ["tag", ${JSON.stringify(shimImage)}, at("--tag")]);
  fs.writeFileSync(at("--iidfile"), ${JSON.stringify(shimImage)});
  console.error("#5 [1/2] COPY busybox /bin/busybox\\n#5 CACHED\\n#6 [2/2] RUN true\\n#6 DONE 0.1s");
  process.exit(0);
}
console.error("shim: unexpected " + argv.join(" ")); process.exit(2);
`,
    );
    chmodSync(join(shimDir, "docker"), 0o755);
  });

  afterEach(() => {
    vi.unstubAllEnvs();
    rmSync(callsFile(), { force: true });
  });

  const ghaEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
    ...process.env,
    ACTIONS_RUNTIME_TOKEN: "runtime-token-value",
    ACTIONS_CACHE_URL: "http://127.0.0.1:9/cache/",
    ACTIONS_RESULTS_URL: "http://127.0.0.1:9/results/",
    ACTIONS_CACHE_SERVICE_V2: "true",
    GITHUB_WORKFLOW: "Preview app",
    GITHUB_HEAD_REF: "feature/new-model",
    GITHUB_BASE_REF: "main",
    GITHUB_REF_NAME: "12/merge",
    ...extra,
  });
  const withShim = () => vi.stubEnv("PATH", `${shimDir}:${process.env.PATH}`);
  const dockerfile = ["FROM scratch", "COPY busybox /bin/busybox", 'RUN ["/bin/busybox", "true"]'].join("\n");

  it("runs docker buildx build with the gha cache scoped per workflow, name and PR, env passed through", async () => {
    withShim();
    const dir = context(dockerfile);
    const tag = `${REPO}:gha`;
    const { log, warnings } = recordingLogger();
    const image = await prepareImage(
      docker,
      { ...buildSource(dir, { kind: "gha" }), buildArgs: { MODEL: "small" }, target: "final" } as BuildSource,
      labels,
      log,
      { tag, env: ghaEnv() },
    );
    expect(warnings).toEqual([]);
    expect(image).toMatchObject({ imageId: shimImage, ref: tag, built: true, cachedSteps: 1, totalSteps: 2 });

    const argvs = calls().map((c) => c.argv);
    const builder = argvs[2]?.[3] ?? "";
    expect(builder).toMatch(new RegExp(`^${CACHE_BUILDER}-[0-9a-f]{8}$`));
    expect(argvs.slice(0, 3)).toEqual([
      ["buildx", "version"],
      ["buildx", "inspect"],
      ["buildx", "create", "--name", builder, "--driver", "docker-container"],
    ]);
    const build = calls()[3];
    expect(build?.argv).toEqual([
      "buildx",
      "build",
      "--builder",
      builder,
      "--file",
      join(dir, "Dockerfile"),
      "--tag",
      tag,
      "--label",
      "ml-preview.repo=octo/e2e-cache",
      "--label",
      "ml-preview.pr=12",
      "--label",
      "ml-preview.name=app",
      "--build-arg",
      "MODEL=small",
      "--target",
      "final",
      "--cache-from",
      "type=gha,scope=ml-preview-Preview-app-app-pr-12",
      "--cache-from",
      "type=gha,scope=ml-preview-Preview-app-app-main",
      "--cache-to",
      "type=gha,mode=max,scope=ml-preview-Preview-app-app-pr-12,ignore-error=true",
      "--iidfile",
      expect.stringMatching(/ml-preview-buildx-.*\/iid$/),
      "--progress",
      "plain",
      "--load",
      dir,
    ]);
    expect(build?.env).toMatchObject({
      ACTIONS_RUNTIME_TOKEN: "runtime-token-value",
      ACTIONS_CACHE_URL: "http://127.0.0.1:9/cache/",
      ACTIONS_RESULTS_URL: "http://127.0.0.1:9/results/",
      ACTIONS_CACHE_SERVICE_V2: "true",
      BUILDX_NO_DEFAULT_ATTESTATIONS: "1",
    });
    // The builder we created (a BuildKit container on the engine) does not outlive the build.
    expect(argvs.slice(4)).toEqual([["buildx", "rm", "--force", builder]]);
  });

  it("a read-only run (a PR's code on a branch) imports the cache and exports nothing", async () => {
    withShim();
    const { log, warnings } = recordingLogger();
    await prepareImage(docker, buildSource(context(dockerfile), { kind: "gha" }), labels, log, {
      tag: `${REPO}:gha-read-only`,
      // workflow_dispatch with pr-number: the run is on main.
      env: ghaEnv({ GITHUB_HEAD_REF: "", GITHUB_BASE_REF: "", GITHUB_REF_NAME: "main" }),
      cacheReadOnly: "this workflow_dispatch run builds pull request #12's code",
    });
    expect(warnings).toEqual([]);
    const build = calls().find((c) => c.argv[1] === "build")!.argv;
    expect(build.filter((a, i) => a.startsWith("--cache") || build[i - 1]?.startsWith("--cache"))).toEqual([
      "--cache-from",
      "type=gha,scope=ml-preview-Preview-app-app-pr-12",
      "--cache-from",
      "type=gha,scope=ml-preview-Preview-app-app-main",
    ]);
  });

  it("falls back to the engine build with one warning when buildx is missing", async () => {
    // A docker without the buildx plugin (GitHub's runners have it, so hide it there too).
    const noBuildx = mkdtempSync(join(tmpdir(), "no-buildx-"));
    const realDocker = execFileSync("sh", ["-c", "command -v docker"], { encoding: "utf8" }).trim();
    writeFileSync(
      join(noBuildx, "docker"),
      `#!/bin/sh\nif [ "$1" = buildx ]; then echo "docker: 'buildx' is not a docker command." >&2; exit 1; fi\nexec ${realDocker} "$@"\n`,
      { mode: 0o755 },
    );
    vi.stubEnv("PATH", `${noBuildx}:${process.env.PATH}`);
    const { log, warnings } = recordingLogger();
    const image = await prepareImage(docker, buildSource(context(dockerfile), { kind: "gha" }), labels, log, {
      tag: `${REPO}:gha-no-buildx`,
      env: ghaEnv(),
    });
    expect(image.built).toBe(true);
    expect((await docker.getImage(`${REPO}:gha-no-buildx`).inspect()).Id).toBe(image.imageId);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^cache: gha is not used for this build: docker buildx is not available/);
  });

  it("falls back with one warning, without running docker, when the cache service env is missing", async () => {
    withShim();
    const { log, warnings } = recordingLogger();
    const env = ghaEnv({ ACTIONS_RUNTIME_TOKEN: "" });
    const image = await prepareImage(docker, buildSource(context(dockerfile), { kind: "gha" }), labels, log, {
      tag: `${REPO}:gha-no-env`,
      env,
    });
    expect(image.built).toBe(true);
    expect(warnings).toEqual([expect.stringContaining("ACTIONS_RUNTIME_TOKEN is not set")]);
    expect(calls()).toEqual([]);
  });

  it("build secrets go to buildx as --secret id=ID,env=VAR: the value in its environment, never in its argv", async () => {
    withShim();
    const { log, warnings, all } = recordingLogger();
    const value = "hf_gha_secret_value_0123";
    await prepareImage(
      docker,
      {
        ...buildSource(context(dockerfile), { kind: "gha" }),
        buildSecrets: { hf_token: value },
      } as BuildSource,
      labels,
      log,
      { tag: `${REPO}:gha-secret`, env: ghaEnv() },
    );
    expect(warnings).toEqual([]);
    const build = calls().find((c) => c.argv[1] === "build")!;
    const at = build.argv.indexOf("--secret");
    expect(build.argv.slice(at, at + 2)).toEqual(["--secret", "id=hf_token,env=ML_PREVIEW_BUILD_SECRET_0"]);
    expect(build.env.ML_PREVIEW_BUILD_SECRET_0).toBe(value);
    expect(JSON.stringify(build.argv)).not.toContain(value);
    expect(JSON.stringify(all)).not.toContain(value);
    // Only the build gets the value: buildx version/inspect/create/rm run without it.
    expect(calls().filter((c) => c.env.ML_PREVIEW_BUILD_SECRET_0 !== undefined)).toHaveLength(1);
  });

  it("a context whose .git/config holds actions/checkout's token builds through the engine, saying why", async () => {
    withShim();
    const dir = context(dockerfile);
    mkdirSync(join(dir, ".git"));
    const basic = Buffer.from("x-access-token:ghs_gha_token_0123").toString("base64");
    writeFileSync(
      join(dir, ".git/config"),
      `[http "https://github.com/"]\n\textraheader = AUTHORIZATION: basic ${basic}\n`,
    );
    const { log, warnings } = recordingLogger();
    const image = await prepareImage(docker, buildSource(dir, { kind: "gha" }), labels, log, {
      tag: `${REPO}:gha-git-credential`,
      env: ghaEnv(),
    });
    expect(image.built).toBe(true);
    expect(image.imageId).not.toBe(shimImage);
    expect(warnings).toEqual([
      expect.stringMatching(
        /^cache: gha is not used for this build: the build context's \.git\/config holds a git credential .*persist-credentials: false/,
      ),
    ]);
    // buildx never ran: it would have sent the file as it is.
    expect(calls()).toEqual([]);
  });

  it("falls back with one warning when docker buildx build fails", async () => {
    withShim();
    const { log, warnings } = recordingLogger();
    const image = await prepareImage(docker, buildSource(context(dockerfile), { kind: "gha" }), labels, log, {
      tag: `${REPO}:gha-fails`,
      env: ghaEnv({ SHIM_BUILD_FAILS: "1" }),
    });
    expect(image.built).toBe(true);
    expect(image.imageId).not.toBe(shimImage);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(
      "docker buildx build failed (exit code 1): #9 ERROR: failed to fetch cache: shim says no",
    );
  });

  it("reports a failing Dockerfile once, as the build's error, without building it again through the engine", async () => {
    withShim();
    const { log, warnings } = recordingLogger();
    const failed = await prepareImage(
      docker,
      buildSource(context(dockerfile), { kind: "gha" }),
      labels,
      log,
      {
        tag: `${REPO}:gha-dockerfile-fails`,
        env: ghaEnv({ SHIM_DOCKERFILE_FAILS: "1" }),
      },
    ).catch((err: unknown) => err);
    expect(failed).toBeInstanceOf(PreviewError);
    expect(failed).toMatchObject({
      step: "build",
      code: "DOCKER_BUILD_FAILED",
      message: expect.stringContaining(
        'The build failed at [2/2] RUN false: process "/bin/sh -c false" did not complete successfully: exit code: 1.',
      ),
      logLines: ["model download refused"],
    });
    expect((failed as Error).message).not.toMatch(/cache/i);
    expect(warnings).toEqual([]);
    await expect(docker.getImage(`${REPO}:gha-dockerfile-fails`).inspect()).rejects.toMatchObject({
      statusCode: 404,
    });
    const argvs = calls().map((c) => c.argv);
    expect(argvs.filter((a) => a[1] === "build")).toHaveLength(1);
    expect(argvs.at(-1)?.slice(0, 3)).toEqual(["buildx", "rm", "--force"]);
  });

  it("stops docker buildx build when the preview is cancelled, and removes its builder", async () => {
    withShim();
    const abort = new AbortController();
    // Cancel once buildx is inside the Dockerfile: its first step reached the log.
    const { log, warnings } = recordingLogger((line) => {
      if (line.startsWith("#5 [1/2]")) abort.abort(new Error("cancelled by the test"));
    });
    const cancelled = await prepareImage(
      docker,
      buildSource(context(dockerfile), { kind: "gha" }),
      labels,
      log,
      {
        tag: `${REPO}:gha-cancelled`,
        env: ghaEnv({ SHIM_BUILD_HANGS: "1" }),
        signal: abort.signal,
      },
    ).catch((err: unknown) => err);
    expect(cancelled).toMatchObject({ step: "build", code: "CANCELLED" });
    expect(warnings).toEqual([]);
    const pid = Number(readFileSync(join(shimDir, "buildx.pid"), "utf8"));
    expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: "ESRCH" }));
    const argvs = calls().map((c) => c.argv);
    expect(argvs.filter((a) => a[1] === "build")).toHaveLength(1);
    expect(argvs.at(-1)?.slice(0, 3)).toEqual(["buildx", "rm", "--force"]);
  });

  it("an engine that cannot look up the image buildx loaded fails the build step, not pull", async () => {
    withShim();
    // An engine that answers every request with a server error (the image lookup after buildx included).
    const socket = join(shimDir, "sick-engine.sock");
    const sick = createServer((_req, res) => {
      res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ message: "engine is sick" }));
    });
    await new Promise<void>((resolve) => sick.listen(socket, resolve));
    try {
      const { log } = recordingLogger();
      const failed = await prepareImage(
        new Docker({ socketPath: socket }),
        buildSource(context(dockerfile), { kind: "gha" }),
        labels,
        log,
        { tag: `${REPO}:gha-sick-engine`, env: ghaEnv() },
      ).catch((err: unknown) => err);
      expect(failed).toBeInstanceOf(PreviewError);
      expect(failed).toMatchObject({ step: "build", message: expect.stringContaining("engine is sick") });
    } finally {
      await new Promise((resolve) => sick.close(resolve));
    }
  });
});

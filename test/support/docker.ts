import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import Docker from "dockerode";
import type { BuildSource } from "../../src/docker/types.js";

/**
 * The real engine, or a failure. Under CI=true a missing engine fails the suite instead of skipping it,
 * so a broken .ci/run can never pass by running nothing.
 */
export async function requireDocker(docker = new Docker()): Promise<Docker> {
  try {
    await docker.ping();
  } catch (err) {
    throw new Error(
      `Docker engine does not answer (${(err as Error).message}). Start dockerd (bash .ci/run does) and run the tests again.`,
    );
  }
  return docker;
}

/** A fresh folder holding `files` (a name ending in "/" is a directory); the caller removes it. */
export function fileTree(files: Record<string, string>, prefix = "ml-preview-tree-"): string {
  const root = mkdtempSync(join(tmpdir(), prefix));
  for (const [name, content] of Object.entries(files)) {
    const path = join(root, name);
    if (name.endsWith("/")) mkdirSync(path, { recursive: true });
    else {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, content);
    }
  }
  return root;
}

/** Path of a statically linked busybox to put into FROM-scratch test images (Debian's busybox-static). */
export function busyboxPath(): string {
  return execFileSync("sh", ["-c", "command -v busybox"], { encoding: "utf8" }).trim();
}

/** A build of `dir`'s Dockerfile with no args, stage or cache, as the config would make it; `extra` overrides. */
export function buildSource(
  dir: string,
  extra: Partial<Extract<BuildSource, { kind: "build" }>> = {},
): BuildSource {
  return {
    kind: "build",
    context: dir,
    dockerfile: "Dockerfile",
    buildArgs: {},
    cache: { kind: "none" },
    ...extra,
  };
}

/**
 * A temporary build context holding /bin/busybox and the given Dockerfile (plus extra files).
 * The binary is copied at test time; it is never committed.
 */
export function busyboxContext(dockerfile: string, files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), "ml-preview-ctx-"));
  copyFileSync(busyboxPath(), join(dir, "busybox"));
  writeFileSync(join(dir, "Dockerfile"), dockerfile);
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return dir;
}

/** A Dockerfile for a FROM-scratch web app served by busybox httpd on `port`. */
export function busyboxHttpdDockerfile(port = 8080, extra = ""): string {
  return [
    "FROM scratch",
    "COPY busybox /bin/busybox",
    'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
    "RUN mkdir -p /www && echo '<h1>ml-preview test app</h1>' > /www/index.html",
    extra,
    `EXPOSE ${port}`,
    `CMD ["/bin/busybox", "httpd", "-f", "-v", "-p", "${port}", "-h", "/www"]`,
  ]
    .filter(Boolean)
    .join("\n");
}

/** A busybox app that serves, then exits 3 with a last word once the test drops /www/crash into it. */
export function crashOnCueDockerfile(port = 8080): string {
  return busyboxHttpdDockerfile(port).replace(
    /CMD .*/,
    `CMD ["/bin/sh", "-c", "httpd -p ${port} -h /www; while [ ! -f /www/crash ]; do sleep 0.2; done; echo 'model weights corrupted'; exit 3"]`,
  );
}

/** Containers still carrying a label (key=value); tests assert this is empty after each run. */
export async function containersWithLabel(docker: Docker, label: string): Promise<string[]> {
  const list = await docker.listContainers({ all: true, filters: { label: [label] } });
  return list.map((c) => c.Id);
}

/** Networks still carrying a label (key=value), as the apps' own networks do; empty after each run. */
export async function networksWithLabel(docker: Docker, label: string): Promise<string[]> {
  const list = await docker.listNetworks({ filters: { label: [label] } });
  return list.map((n) => n.Name);
}

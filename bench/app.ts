import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import type Docker from "dockerode";
import type { PreviewLabels } from "../src/docker/types.js";
import { busyboxContext } from "../test/support/docker.js";

/** One id for everything this bench process creates: every container and image carries it as a label. */
export const BENCH_RUN = `bench-${process.pid}-${randomBytes(3).toString("hex")}`;
export const BENCH_LABEL = `ml-preview.run=${BENCH_RUN}`;

export const benchLabels = (name = "app"): PreviewLabels => ({
  "ml-preview.repo": "ml-preview/bench",
  "ml-preview.pr": "0",
  "ml-preview.run": BENCH_RUN,
  "ml-preview.name": name,
});

/**
 * A busybox web app that behaves like a model server: it loads for BENCH_STARTUP seconds, starts listening,
 * and at once logs the wall-clock time (adjtimex prints it in microseconds; the container shares the host's
 * clock) and a "listening" line. `httpd` without -f returns only after its socket listens, so the logged
 * time is at most one fork+exec after the first moment the app could answer. It stops on SIGTERM like a
 * well-behaved server (a shell as PID 1 without the trap would ignore it and wait out the stop grace).
 */
export const LISTENING_APP_DOCKERFILE = [
  "FROM scratch",
  "COPY busybox /bin/busybox",
  'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
  "RUN mkdir -p /www && echo '<h1>ml-preview bench app</h1>' > /www/index.html",
  "ENV BENCH_STARTUP=1",
  "EXPOSE 8080",
  `CMD ["/bin/sh", "-c", "trap 'exit 0' TERM; sleep $BENCH_STARTUP; httpd -p 8080 -h /www; adjtimex; echo listening on 8080; sleep 2147483647 & wait"]`,
].join("\n");

/** Builds the listening app with the docker CLI; returns its tag. */
export function buildListeningApp(): string {
  return buildBenchImage("app", LISTENING_APP_DOCKERFILE);
}

/**
 * Builds `dockerfile` (a busybox context plus `files`) with the docker CLI as
 * ml-preview-bench/<name>:<BENCH_RUN>, labelled so removeBenchObjects removes it; returns the tag.
 */
export function buildBenchImage(
  name: string,
  dockerfile: string,
  files: Record<string, string> = {},
): string {
  const tag = `ml-preview-bench/${name}:${BENCH_RUN}`;
  const dir = busyboxContext(dockerfile, files);
  try {
    const labels = Object.entries(benchLabels()).flatMap(([k, v]) => ["--label", `${k}=${v}`]);
    execFileSync("docker", ["build", "-q", "-t", tag, ...labels, dir], {
      env: { ...process.env, DOCKER_BUILDKIT: "0" },
      stdio: ["ignore", "pipe", "pipe"],
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return tag;
}

/** A startup time that varies run to run, so the app comes up at a different point of the poll schedule. */
export const startupSeconds = (run: number) => (1 + ((run * 0.137) % 0.5)).toFixed(3);

/** The wall-clock time (ms since the epoch) the app logged when it started listening. */
export function listenTimeFromLog(text: string): number | undefined {
  const sec = /time\.tv_sec:\s+(\d+)/.exec(text)?.[1];
  const usec = /time\.tv_usec:\s+(\d+)/.exec(text)?.[1];
  return sec && usec ? Number(sec) * 1000 + Number(usec) / 1000 : undefined;
}

/**
 * The app's logged listening time. Readiness may see the port answer before the app has printed it (or
 * before the engine has written the line to its log), so the log is read again for up to 5 s.
 */
export async function listenTime(docker: Docker, containerId: string): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const raw = await docker.getContainer(containerId).logs({ stdout: true, stderr: true });
    const t = listenTimeFromLog(Buffer.from(raw as unknown as Buffer).toString("latin1"));
    if (t !== undefined) return t;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the app ${containerId.slice(0, 12)} logged no listening time`);
}

/** Removes every container, then every image, of this bench process (run label BENCH_RUN or BENCH_RUN-…). */
export async function removeBenchObjects(docker: Docker): Promise<void> {
  const filters = { label: ["ml-preview.repo=ml-preview/bench"] };
  const ours = (labels: Record<string, string> | null | undefined) =>
    (labels?.["ml-preview.run"] ?? "").startsWith(BENCH_RUN);
  for (const c of await docker.listContainers({ all: true, filters }))
    if (ours(c.Labels))
      await docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => undefined);
  for (const image of await docker.listImages({ all: true, filters }))
    if (ours(image.Labels))
      await docker
        .getImage(image.Id)
        .remove({ force: true })
        .catch(() => undefined);
}

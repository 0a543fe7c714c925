import type Docker from "dockerode";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startContainer } from "../../src/docker/container.js";
import { frameworkEvidence } from "../../src/docker/readiness/diagnose.js";
import { tcpStrategy } from "../../src/docker/readiness/tcp.js";
import { waitUntilReady } from "../../src/docker/readiness/wait.js";
import { sweepContainers } from "../../src/docker/sweep.js";
import type { AppContainer } from "../../src/docker/types.js";
import type { PreparedImage } from "../../src/lifecycle/types.js";
import { silentLogger } from "../../src/log.js";
import { busyboxHttpdDockerfile, requireDocker } from "../support/docker.js";
import {
  buildTestImage,
  labelsFor,
  leftoverContainers,
  median,
  removeTestImages,
  runOptions,
  uniqueRun,
} from "../support/preview-containers.js";

const run = uniqueRun("e2e-ready");
let docker: Docker;
let httpd: PreparedImage;
let fakeStreamlit: PreparedImage;
let withHealthcheck: PreparedImage;
const started: AppContainer[] = [];

/**
 * No EXPOSE, started as `streamlit run app.py`: port and health path must come from the framework.
 * Only /_stcore/health answers 200 (no index.html, so `/` does not).
 */
const streamlitDockerfile = [
  "FROM scratch",
  "COPY busybox /bin/busybox",
  'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
  "RUN mkdir -p /www/_stcore && echo ok > /www/_stcore/health",
  "COPY streamlit /bin/streamlit",
  "RUN chmod +x /bin/streamlit",
  'CMD ["streamlit", "run", "app.py"]',
].join("\n");

beforeAll(async () => {
  docker = await requireDocker();
  httpd = buildTestImage(`ml-preview-e2e/ready-httpd:${run}`, run, busyboxHttpdDockerfile(8080));
  fakeStreamlit = buildTestImage(`ml-preview-e2e/fake-streamlit:${run}`, run, streamlitDockerfile, {
    streamlit: "#!/bin/sh\nsleep 0.5\nexec httpd -f -p 8501 -h /www\n",
  });
  withHealthcheck = buildTestImage(
    `ml-preview-e2e/healthcheck:${run}`,
    run,
    busyboxHttpdDockerfile(
      8080,
      "HEALTHCHECK --interval=1s --timeout=1s CMD wget -q -O /dev/null http://127.0.0.1:8080/ || exit 1",
    ),
  );
});

afterEach(async () => {
  await Promise.all(started.splice(0).map((app) => app.remove()));
  const left = leftoverContainers(run);
  await sweepContainers(docker, { "ml-preview.run": run });
  expect(left).toEqual([]);
});

afterAll(async () => {
  if (docker) await removeTestImages(docker, run);
});

async function start(name: string, command?: string[], image = httpd): Promise<AppContainer> {
  const app = await startContainer(
    docker,
    image,
    runOptions({ command }),
    labelsFor(run, name),
    silentLogger,
  );
  started.push(app);
  return app;
}

/** Wall-clock ms now (same clock as `ts` inside the container: containers share the host's realtime clock). */
const nowMs = () => performance.timeOrigin + performance.now();
/** `ts %.s` prefixes a line with seconds.microseconds since the epoch. */
const stampOf = (line: string) => Number(/^(\d+\.\d+)/.exec(line)?.[1]) * 1000;

async function lineMatching(app: AppContainer, pattern: RegExp, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const line = (await app.tail(50)).find((l) => pattern.test(l));
    if (line) return line;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no log line matched ${pattern}`);
}

describe("readiness against real containers", () => {
  it("finds port and health path from the framework (fake `streamlit run`, no EXPOSE)", async () => {
    const app = await start("streamlit", undefined, fakeStreamlit);
    expect(app.containerPort).toBe(8501);
    const ready = await waitUntilReady(docker, app, { timeoutMs: 20_000 });
    expect(ready.strategy).toBe("http GET /_stcore/health");
  });

  it("an explicit health path wins: one that never answers 2xx times out", async () => {
    const app = await start("bad-path");
    const err = await waitUntilReady(docker, app, { timeoutMs: 1500, healthPath: "/missing" }).catch(
      (e) => e,
    );
    expect(err.code).toBe("READY_TIMEOUT");
    expect(err.message).toMatch(/GET \/missing answered 404/);
  });

  it("uses the image's own HEALTHCHECK when it has one", async () => {
    const app = await start("healthcheck", undefined, withHealthcheck);
    // /missing never answers 2xx, so only Docker's health status can make it ready.
    const ready = await waitUntilReady(docker, app, { timeoutMs: 20_000, healthPath: "/missing" });
    expect(ready.strategy).toBe("docker HEALTHCHECK");
    const info = await docker.getContainer(app.id).inspect();
    expect(info.State.Health?.Status).toBe("healthy");
  });

  it("TCP readiness is not fooled by Docker's port proxy when nothing listens inside", async () => {
    const idle = await start("tcp-idle", ["sleep", "1000"]);
    const strategy = tcpStrategy({ host: "127.0.0.1", port: idle.hostPort });
    const err = await waitUntilReady(docker, idle, { timeoutMs: 1500, strategies: [strategy] }).catch(
      (e) => e,
    );
    expect(err.code).toBe("READY_TIMEOUT");
    expect(err.message).toMatch(/accepts but closes at once|nothing answers/);

    const serving = await start("tcp-serving");
    const ok = await waitUntilReady(docker, serving, {
      timeoutMs: 20_000,
      strategies: [tcpStrategy({ host: "127.0.0.1", port: serving.hostPort })],
    });
    expect(ok.strategy).toBe(`tcp ${serving.hostPort}`);
  });

  // The first-run mistakes are diagnosed while the ready timeout (5 min) is far away: the test's 60 s bound.
  it("an app on 127.0.0.1 inside its container is diagnosed from its sockets, with the fix", async () => {
    const app = await start("loopback", ["httpd", "-f", "-p", "127.0.0.1:8080", "-h", "/www"]);
    const err = await waitUntilReady(docker, app, { timeoutMs: 300_000 }).catch((e) => e);
    expect(err.code).toBe("APP_LISTENS_ON_LOOPBACK");
    expect(err.message).toContain("listens on 127.0.0.1:8080 inside its container");
    expect(err.message).toContain("0.0.0.0");
  }, 60_000);

  // Issue 31: the tool sets GRADIO_SERVER_NAME in every container; that must not make a Flask app Gradio.
  it("a Flask-like `python app.py` on 127.0.0.1 gets Flask's fix, told by its own log lines", async () => {
    const flaskLike = buildTestImage(
      `ml-preview-e2e/flask-loopback:${run}`,
      run,
      [
        "FROM scratch",
        "COPY busybox /bin/busybox",
        'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
        "RUN mkdir -p /www /app && echo '<h1>flask-like</h1>' > /www/index.html",
        // `python` runs the shell script app.py: the command has the shape of a real `python app.py`.
        "COPY python /bin/python",
        "COPY app.py serve.py /app/",
        "RUN chmod +x /bin/python",
        "WORKDIR /app",
        "EXPOSE 5000",
        'CMD ["python", "app.py"]',
      ].join("\n"),
      {
        python: '#!/bin/sh\nexec sh "$@"\n',
        "app.py": [
          "echo \" * Serving Flask app 'app'\"",
          'echo " * Debug mode: off"',
          'echo " * Running on http://127.0.0.1:5000"',
          "exec httpd -f -p 127.0.0.1:5000 -h /www",
          "",
        ].join("\n"),
        "serve.py": "from flask import Flask\n\napp = Flask(__name__)\n",
      },
    );
    const app = await start("flask-loopback", undefined, flaskLike);
    expect(app.containerPort).toBe(5000);
    const err = await waitUntilReady(docker, app, { timeoutMs: 300_000 }).catch((e) => e);
    expect(err.code).toBe("APP_LISTENS_ON_LOOPBACK");
    expect(err.message).toContain("listens on 127.0.0.1:5000 inside its container");
    expect(err.message).toContain('app.run(host="0.0.0.0")');
    expect(err.message).not.toMatch(/gradio|server_name/i);
    // Without telling log lines, the script's imports are read in the container's working directory.
    const bySource = frameworkEvidence(docker, app.id, { cmd: ["python", "serve.py"] });
    expect(await bySource.framework()).toBe("flask");
  }, 60_000);

  it("an app announcing another port is diagnosed from its log line; the wait is shown meanwhile", async () => {
    const lines: string[] = [];
    const log = {
      ...silentLogger,
      info: (m: string) => lines.push(m),
      group: async <T>(t: string, fn: () => Promise<T>) => {
        lines.push(t);
        return fn();
      },
    };
    const app = await start("other-port", [
      "sh",
      "-c",
      'echo "Listening on http://0.0.0.0:9000"; exec httpd -f -p 9000 -h /www',
    ]);
    const err = await waitUntilReady(docker, app, { timeoutMs: 300_000, log, progressEveryMs: 500 }).catch(
      (e) => e,
    );
    expect(err.code).toBe("APP_LISTENS_ON_OTHER_PORT");
    expect(err.message).toContain("Set the `port` input to 9000 (CLI: `--port 9000`)");
    expect(err.logLines).toContain("Listening on http://0.0.0.0:9000");
    expect(lines[0]).toBe(`Waiting up to 5 min for GET / to answer on container port 8080 (${app.localUrl})`);
    expect(lines).toContain("  app | Listening on http://0.0.0.0:9000");
    expect(lines.some((l) => l.startsWith("… still waiting ("))).toBe(true);
  }, 60_000);

  it("an AbortSignal ends the wait, cancelled rather than timed out", async () => {
    const app = await start("abort", ["sleep", "1000"]);
    const controller = new AbortController();
    // Abort once the wait has begun (it says so in its group title), not after a guessed delay.
    const log = {
      ...silentLogger,
      group: async <T>(_t: string, fn: () => Promise<T>) => {
        controller.abort();
        return fn();
      },
    };
    const err = await waitUntilReady(docker, app, {
      timeoutMs: 60_000,
      signal: controller.signal,
      log,
    }).catch((e) => e);
    expect(err.code).toBe("CANCELLED");
  });

  // The app stamps (µs, realtime clock, with `ts`) the moment just before it starts listening, after a
  // delay; lag = when waitUntilReady returned − that stamp (so httpd's own start-up counts as lag too).
  // "announced": the stamp line reaches us as a log line, like "Uvicorn running on ..." would.
  // "silent": the stamp is only printed seconds later, so only polling can find the app.
  // Two delays per variant: enough to see it is never early (the lag's median is bench/'s figure).
  const delays = ["0.6", "1.2"];
  it.each([
    ["announced", (d: string) => `sleep ${d}; echo listening | ts %.s; exec httpd -f -p 8080 -h /www`],
    [
      "silent",
      (d: string) =>
        `sleep ${d}; echo x | ts %.s > /stamp; httpd -p 8080 -h /www; sleep 1; cat /stamp; exec sleep 1000`,
    ],
  ])("never ready before the app first answers (%s)", async (variant, script) => {
    const lags: number[] = [];
    for (const delay of delays) {
      const app = await start(`lag-${variant}`, ["sh", "-c", script(delay)]);
      await waitUntilReady(docker, app, { timeoutMs: 20_000 });
      const readyAt = nowMs();
      lags.push(readyAt - stampOf(await lineMatching(app, /^\d+\.\d+/)));
      await app.remove();
    }
    console.log(
      `readiness detection lag (${variant}): median ${median(lags).toFixed(1)} ms, ` +
        `samples ${lags.map((l) => l.toFixed(1)).join(", ")} ms`,
    );
    // Never "ready" before the app could listen. How fast is bench/'s question (fig-readiness, goal 50 ms).
    expect(lags.every((l) => l >= -1)).toBe(true);
  });
});

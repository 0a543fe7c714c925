import type Docker from "dockerode";
import { describe, expect, it } from "vitest";
import {
  launchedScript,
  logFramework,
  mostSpecific,
  sourceFramework,
  withoutInjectedEnv,
} from "../../src/docker/framework.js";
import {
  announcedListen,
  diagnoseListen,
  frameworkEvidence,
  parseProcNetTcp,
  stdoutOf,
} from "../../src/docker/readiness/diagnose.js";
import { waitUntilReady } from "../../src/docker/readiness/wait.js";
import type { AppContainer } from "../../src/docker/types.js";
import type { PreviewError } from "../../src/errors.js";

describe("announcedListen: where the app's own log line says it listens", () => {
  it.each([
    [" * Running on http://127.0.0.1:5000", 5000, "loopback"],
    ["Dash is running on http://127.0.0.1:8050/", 8050, "loopback"],
    ["Running on local URL:  http://127.0.0.1:7860", 7860, "loopback"],
    ["INFO:     Uvicorn running on http://0.0.0.0:8000 (Press CTRL+C to quit)", 8000, "all"],
    ["  Local URL: http://localhost:8501", 8501, "loopback"],
    ["  Network URL: http://172.17.0.2:8501", 8501, "all"],
    ["Listening on [::]:3000", 3000, "all"],
  ])("%s", (line, port, reach) => {
    expect(announcedListen(line)).toEqual([{ port, reach, line: line.trim() }]);
  });

  it("ignores addresses in lines that announce no server (a database URL while loading)", () => {
    expect(announcedListen("Connecting to postgres at localhost:5432")).toEqual([]);
  });
});

describe("parseProcNetTcp: LISTEN sockets of the container", () => {
  const table = [
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
    "   0: 0100007F:1388 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1",
    "   1: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1",
    "   2: 0100007F:1388 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000     0        0 3 1",
    "   3: 0B00007F:A1B2 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4 1",
    "  sl  local_address                         remote_address                        st",
    "   0: 00000000000000000000000001000000:1F41 00000000000000000000000000000000:0000 0A 0",
    "   1: 00000000000000000000000000000000:1F42 00000000000000000000000000000000:0000 0A 0",
  ].join("\n");

  it("reads IPv4 and IPv6 listeners, skipping connections and Docker's embedded DNS", () => {
    expect(parseProcNetTcp(table)).toEqual([
      { port: 5000, reach: "loopback" },
      { port: 8080, reach: "all" },
      { port: 8001, reach: "loopback" },
      { port: 8002, reach: "all" },
    ]);
  });
});

describe("diagnoseListen: the mistake and its exact fix", () => {
  it("loopback at the probed port names 0.0.0.0 and the framework's switch", () => {
    const err = diagnoseListen(announcedListen(" * Running on http://127.0.0.1:5000"), 5000, {
      framework: "flask",
      fromLog: true,
    });
    expect(err?.code).toBe("APP_LISTENS_ON_LOOPBACK");
    expect(err?.message).toContain('its log: "* Running on http://127.0.0.1:5000"');
    expect(err?.message).toContain('app.run(host="0.0.0.0")');
  });

  it("a listener on 0.0.0.0 at the probed port is no loopback mistake (Flask prints both URLs)", () => {
    const facts = [
      ...announcedListen(" * Running on all addresses (0.0.0.0)"),
      ...announcedListen(" * Running on http://127.0.0.1:5000"),
      ...announcedListen(" * Running on http://172.17.0.2:5000"),
    ];
    expect(diagnoseListen(facts, 5000, { fromLog: true })).toBeUndefined();
  });

  it("another port than the probed one gives the port to set, as input and flag", () => {
    const err = diagnoseListen(announcedListen("Uvicorn running on http://0.0.0.0:8000"), 8050, {
      fromLog: true,
    });
    expect(err?.code).toBe("APP_LISTENS_ON_OTHER_PORT");
    expect(err?.message).toContain("Set the `port` input to 8000 (CLI: `--port 8000`)");
  });

  it("a socket on another port counts only when the image EXPOSEs it (a metrics port is no mistake)", () => {
    const sockets = [{ port: 9090, reach: "all" as const }];
    expect(diagnoseListen(sockets, 8050, { fromLog: false })).toBeUndefined();
    expect(diagnoseListen(sockets, 8050, { fromLog: false, exposed: [9090] })?.code).toBe(
      "APP_LISTENS_ON_OTHER_PORT",
    );
  });
});

describe("which framework: the app's own evidence, never what the tool injected", () => {
  it.each([
    [" * Serving Flask app 'app'", "flask"],
    [" * Running on http://127.0.0.1:5000", "flask"],
    ["Dash is running on http://127.0.0.1:8050/", "dash"],
    ["INFO:     Uvicorn running on http://127.0.0.1:8000 (Press CTRL+C to quit)", "uvicorn"],
    ["  You can now view your Streamlit app in your browser.", "streamlit"],
    ["* Running on local URL:  http://127.0.0.1:7860", "gradio"],
    ["Running on local URL:  http://127.0.0.1:7860", "gradio"],
    ["Listening on http://0.0.0.0:9000", undefined],
  ])("log line %j", (line, name) => {
    expect(logFramework(line)).toBe(name);
  });

  it("Dash prints Werkzeug's lines too, Gradio runs on uvicorn: the specific one wins", () => {
    expect(mostSpecific(["flask", "dash"])).toBe("dash");
    expect(mostSpecific(["uvicorn", "gradio"])).toBe("gradio");
    expect(mostSpecific([])).toBeUndefined();
  });

  it("reads the script `python app.py` runs, and its imports", () => {
    expect(launchedScript({ cmd: ["python", "app.py"] })).toBe("app.py");
    expect(launchedScript({ entrypoint: ["/usr/bin/python3.11", "-u"], cmd: ["src/main.py"] })).toBe(
      "src/main.py",
    );
    expect(launchedScript({ cmd: ["sh", "-c", "python -m http.server"] })).toBeUndefined();
    expect(sourceFramework("import os\nfrom flask import Flask\napp = Flask(__name__)\n")).toBe("flask");
    expect(sourceFramework("from dash import Dash, html\nimport flask\n")).toBe("dash");
    expect(sourceFramework("import gradio as gr\nfrom fastapi import FastAPI\n")).toBe("gradio");
    expect(sourceFramework("# from flask import Flask (not used)\nprint(1)\n")).toBeUndefined();
  });

  it("drops GRADIO_SERVER_NAME when the tool set it, keeps it when the image did", () => {
    const container = ["PATH=/bin", "GRADIO_SERVER_NAME=0.0.0.0"];
    expect(withoutInjectedEnv(container, ["PATH=/bin"])).toEqual(["PATH=/bin"]);
    expect(withoutInjectedEnv(container, container)).toEqual(container);
  });

  it("launch argv beats log lines, which beat the script's imports, which beat env", async () => {
    const noExec = { getContainer: () => ({ exec: async () => Promise.reject(new Error("no exec")) }) };
    const docker = noExec as unknown as Docker;
    const gradioEnv = { cmd: ["python", "app.py"], env: ["GRADIO_SERVER_PORT=7000"] };
    const logged = frameworkEvidence(docker, "c", gradioEnv);
    expect(await logged.framework()).toBe("gradio");
    logged.line(" * Serving Flask app 'app'");
    expect(await logged.framework()).toBe("flask");
    const launched = frameworkEvidence(docker, "c", { cmd: ["uvicorn", "main:app"] });
    launched.line(" * Serving Flask app 'app'");
    expect(await launched.framework()).toBe("uvicorn");
    expect(await frameworkEvidence(docker, "c", { cmd: ["./serve"] }).framework()).toBeUndefined();
  });

  it("demultiplexes an exec stream's stdout", () => {
    const frame = (type: number, text: string) => {
      const head = Buffer.alloc(8);
      head[0] = type;
      head.writeUInt32BE(Buffer.byteLength(text), 4);
      return Buffer.concat([head, Buffer.from(text)]);
    };
    const raw = Buffer.concat([frame(1, "from flask "), frame(2, "oops"), frame(1, "import Flask\n")]);
    expect(stdoutOf(raw).toString()).toBe("from flask import Flask\n");
    expect(stdoutOf(Buffer.from("plain text")).toString()).toBe("plain text");
  });

  // The issue-31 finding: `python app.py` running Flask's `app.run()` was told to use Gradio's switch,
  // because the GRADIO_SERVER_NAME the tool sets in every container was read back as evidence.
  it("a Flask `app.run()` started as `python app.py` gets Flask's fix, not Gradio's", async () => {
    const docker = {
      getContainer: () => ({
        inspect: async () => ({
          Image: "sha256:img",
          Config: { Cmd: ["python", "app.py"], Env: ["PATH=/bin", "GRADIO_SERVER_NAME=0.0.0.0"] },
        }),
        exec: async () => Promise.reject(new Error("exec disabled")),
      }),
      getImage: () => ({ inspect: async () => ({ Config: { Env: ["PATH=/bin"] } }) }),
    } as unknown as Docker;
    const lines = [" * Serving Flask app 'app'", " * Debug mode: off", " * Running on http://127.0.0.1:5000"];
    const app: AppContainer = {
      id: "flask",
      containerPort: 5000,
      hostPort: 1,
      // Nothing listens on port 1: the announced address is confirmed unreachable.
      localUrl: "http://127.0.0.1:1",
      exited: new Promise(() => undefined),
      tail: async (n) => lines.slice(-n),
      remove: async () => undefined,
    };
    const err = await waitUntilReady(docker, app, { timeoutMs: 30_000 }).then(
      () => expect.unreachable("expected a diagnosis"),
      (e: PreviewError) => e,
    );
    expect(err.code).toBe("APP_LISTENS_ON_LOOPBACK");
    expect(err.message).toContain('Flask: `app.run(host="0.0.0.0")`, or `flask run --host 0.0.0.0`');
    expect(err.message).not.toMatch(/gradio|server_name/i);
  }, 10_000);
});

import { describe, expect, it } from "vitest";
import { declaredPort, detectFramework, reachableEnv } from "../../src/docker/framework.js";
import { exposedTcpPorts, resolveContainerPort } from "../../src/docker/ports.js";
import { PreviewError } from "../../src/errors.js";

const none = { launch: {} };

describe("resolveContainerPort", () => {
  it("takes the port input over everything else", () => {
    const port = resolveContainerPort({
      requested: 9000,
      exposedPorts: { "8080/tcp": {} },
      launch: { cmd: ["streamlit", "run", "app.py"] },
    });
    expect(port).toEqual({ port: 9000, source: "input" });
  });

  it("takes the image's single EXPOSEd port", () => {
    expect(
      resolveContainerPort({ exposedPorts: { "8080/tcp": {} }, launch: { cmd: ["gradio", "app.py"] } }),
    ).toEqual({
      port: 8080,
      source: "expose",
    });
  });

  it.each([
    [["streamlit", "run", "app.py"], 8501, "streamlit"],
    [["python", "-m", "streamlit", "run", "app.py"], 8501, "streamlit"],
    [["/usr/local/bin/gradio", "app.py"], 7860, "gradio"],
    [["voila", "notebook.ipynb"], 8866, "voila"],
    [["uvicorn", "main:app", "--host", "0.0.0.0"], 8000, "uvicorn"],
    [["fastapi", "run", "main.py"], 8000, "uvicorn"],
    [["flask", "run", "--host=0.0.0.0"], 5000, "flask"],
    [["python", "-m", "dash"], 8050, "dash"],
    [["sh", "-c", "pip list && streamlit run app.py"], 8501, "streamlit"],
  ])("falls back to the framework default for %j", (cmd, port, framework) => {
    expect(resolveContainerPort({ exposedPorts: null, launch: { cmd } })).toEqual({
      port,
      source: "framework",
      framework,
    });
  });

  it("reads the port a framework is told to use (flag or env knob)", () => {
    const viaFlag = { cmd: ["streamlit", "run", "app.py", "--server.port", "8080"] };
    expect(resolveContainerPort({ launch: viaFlag }).port).toBe(8080);
    expect(resolveContainerPort({ launch: { cmd: ["uvicorn", "main:app", "--port=9001"] } }).port).toBe(9001);
    expect(
      resolveContainerPort({ launch: { cmd: ["gunicorn", "-b", "0.0.0.0:8050", "app:server"] } }).port,
    ).toBe(8050);
    const gradioEnv = { cmd: ["python", "app.py"], env: ["PATH=/bin", "GRADIO_SERVER_PORT=7000"] };
    expect(resolveContainerPort({ launch: gradioEnv })).toEqual({
      port: 7000,
      source: "framework",
      framework: "gradio",
    });
  });

  it("detects Gradio from its env when the command is only `python app.py`", () => {
    const launch = { cmd: ["python", "app.py"], env: ["GRADIO_SERVER_NAME=0.0.0.0"] };
    expect(resolveContainerPort({ launch })).toEqual({
      port: 7860,
      source: "framework",
      framework: "gradio",
    });
  });

  it("uses the framework's port to choose among several EXPOSEd ports", () => {
    const facts = {
      exposedPorts: { "22/tcp": {}, "8501/tcp": {} },
      launch: { entrypoint: ["streamlit"], cmd: ["run"] },
    };
    expect(resolveContainerPort(facts).port).toBe(8501);
  });

  it("asks for `port` when several ports are EXPOSEd and none is the framework's", () => {
    const err = catchError(() =>
      resolveContainerPort({
        exposedPorts: { "80/tcp": {}, "443/tcp": {} },
        launch: { cmd: ["python", "x.py"] },
      }),
    );
    expect(err).toBeInstanceOf(PreviewError);
    expect(err.step).toBe("run");
    expect(err.code).toBe("PORT_AMBIGUOUS");
    expect(err.message).toMatch(/80, 443/);
    expect(err.message).toMatch(/`port`/);
  });

  it("asks for `port` when nothing tells the port", () => {
    const err = catchError(() => resolveContainerPort({ ...none, launch: { cmd: ["python", "serve.py"] } }));
    expect(err.step).toBe("run");
    expect(err.code).toBe("PORT_UNKNOWN");
    expect(err.message).toMatch(/Set the `port` input/);
  });

  it("ignores UDP ports", () => {
    expect(exposedTcpPorts({ "53/udp": {}, "8080/tcp": {}, "8080": {} })).toEqual([8080]);
    expect(resolveContainerPort({ exposedPorts: { "53/udp": {}, "5000/tcp": {} }, launch: {} }).port).toBe(
      5000,
    );
  });
});

describe("detectFramework", () => {
  it("does not take Debian's `dash` shell for Plotly Dash", () => {
    expect(detectFramework({ entrypoint: ["/bin/dash", "-c"], cmd: ["python serve.py"] })).toBeUndefined();
  });

  it("skips a -p that is no port (`mkdir -p /x`) and finds the real flag", () => {
    const launch = { cmd: ["sh", "-c", "mkdir -p /data && flask run -p 8123"] };
    const framework = detectFramework(launch);
    expect(framework?.name).toBe("flask");
    expect(declaredPort(framework!, launch)).toBe(8123);
  });

  it("knows nothing of an unrelated command", () => {
    expect(detectFramework({ cmd: ["/bin/busybox", "httpd", "-f", "-p", "8080"] })).toBeUndefined();
  });
});

function catchError(fn: () => unknown): PreviewError {
  try {
    fn();
  } catch (err) {
    return err as PreviewError;
  }
  throw new Error("expected an error");
}

describe("reachableEnv: Gradio's documented switch, set only when nobody set it", () => {
  it("sets GRADIO_SERVER_NAME=0.0.0.0 by default", () => {
    expect(reachableEnv(["PATH=/bin"], {})).toEqual({ GRADIO_SERVER_NAME: "0.0.0.0" });
  });
  it("leaves it to the image or the user when either sets it", () => {
    expect(reachableEnv(["GRADIO_SERVER_NAME=127.0.0.1"], {})).toEqual({});
    expect(reachableEnv([], { GRADIO_SERVER_NAME: "::" })).toEqual({});
  });
});

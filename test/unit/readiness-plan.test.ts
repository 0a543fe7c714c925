import { describe, expect, it } from "vitest";
import { hasHealthcheck, readinessPlan } from "../../src/docker/readiness/framework.js";
import { logPatternStrategy } from "../../src/docker/readiness/log-pattern.js";
import type { ReadinessContext } from "../../src/docker/readiness/types.js";

describe("readinessPlan", () => {
  it("uses Streamlit's health endpoint", () => {
    expect(readinessPlan({ cmd: ["streamlit", "run", "app.py"] })).toEqual({
      httpPath: "/_stcore/health",
      dockerHealth: false,
      framework: "streamlit",
    });
  });

  it("uses / for Gradio and for unknown apps", () => {
    expect(readinessPlan({ cmd: ["python", "app.py"], env: ["GRADIO_SERVER_NAME=0.0.0.0"] }).httpPath).toBe(
      "/",
    );
    expect(readinessPlan({ cmd: ["./serve"] })).toEqual({ httpPath: "/", dockerHealth: false });
    expect(readinessPlan(undefined).httpPath).toBe("/");
  });

  it("lets health-path win, and adds a missing leading slash", () => {
    expect(readinessPlan({ cmd: ["streamlit", "run", "x.py"] }, "/ping").httpPath).toBe("/ping");
    expect(readinessPlan({}, "healthz").httpPath).toBe("/healthz");
  });

  it("races the image's HEALTHCHECK when it has one", () => {
    expect(
      readinessPlan({ healthcheck: { Test: ["CMD-SHELL", "wget -q -O- localhost:8080"] } }).dockerHealth,
    ).toBe(true);
    expect(readinessPlan({ healthcheck: { Test: ["NONE"] } }).dockerHealth).toBe(false);
    expect(hasHealthcheck({})).toBe(false);
    expect(hasHealthcheck(undefined)).toBe(false);
  });
});

describe("logPatternStrategy", () => {
  const ctxWith = (controller: AbortController): ReadinessContext => ({
    signal: controller.signal,
    onNudge: () => () => undefined,
    note: () => undefined,
  });

  it("counts a line printed before the wait began", async () => {
    const app = { tail: async () => ["booting", "Uvicorn running on http://0.0.0.0:8000"] };
    await logPatternStrategy(app, /Uvicorn running on/g).until(ctxWith(new AbortController()));
  });

  it("polls tail() when the container cannot push lines, and rejects on abort", async () => {
    const lines: string[] = [];
    const app = { tail: async () => lines };
    const controller = new AbortController();
    const waiting = logPatternStrategy(app, /ready/).until(ctxWith(controller));
    setTimeout(() => lines.push("model ready"), 100);
    await waiting;

    const other = new AbortController();
    const never = logPatternStrategy({ tail: async () => [] }, /ready/).until(ctxWith(other));
    other.abort(new Error("over"));
    await expect(never).rejects.toThrow("over");
  });
});

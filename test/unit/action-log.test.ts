import * as core from "@actions/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { actionsLogger, info } from "../../src/action/toolkit.js";
import { inertJsonLine, plainForRunner } from "../../src/workflow-commands.js";
import { lineSplitter, StepCommands } from "../support/workflow-commands.js";

// The Action's plain log lines, read as the runner reads the step's stdout (test/support/workflow-commands.ts,
// from actions/runner's parser): text from the pull request's build or app never becomes a command.
let written: string[];
const original = process.stdout.write;

beforeEach(() => {
  written = [];
  process.stdout.write = ((chunk: string | Uint8Array) => {
    written.push(String(chunk));
    return true;
  }) as typeof process.stdout.write;
});
afterEach(() => {
  process.stdout.write = original;
});

/** What the runner made of everything written so far. */
function runnerSees(): StepCommands {
  const step = new StepCommands();
  const lines = lineSplitter((l) => step.line(l));
  lines.push(written.join(""));
  lines.end();
  return step;
}

const FORGED = [
  "::warning::pwned",
  "   ::save-state name=container::0123456789ab",
  "Step 3/7 : RUN echo ##[warning]legacy",
  "progress 10%\r::error::after a carriage return",
  "::set-output name=url::https://evil.example",
  "::stop-commands::attacker-token",
  "::attacker-token::",
  "::add-mask::everything",
  "##[set-env name=NODE_OPTIONS]--require /tmp/x.js",
];

describe("info: plain text, never a workflow command", () => {
  it("build and app lines that look like commands are printed, verbatim, and none is carried out", () => {
    for (const line of FORGED) actionsLogger.info(line);
    actionsLogger.info(FORGED.join("\n")); // one message of many lines (an error quoting the build)
    const step = runnerSees();
    expect(step.annotations).toEqual([]);
    expect(step.state).toEqual({});
    expect(step.outputs).toEqual({});
    expect(step.failures).toEqual([]);
    // Only the block tokens are masked, never a value the text asked for.
    expect(step.masks.every((m) => /^[0-9a-f]{32}$/.test(m))).toBe(true);
    const all = written.join("");
    for (const line of FORGED) expect(all).toContain(line);
  });

  it("the step's own commands still work after such text", () => {
    info("::warning::forged");
    core.warning("the Action's own warning");
    core.saveState("x", "y"); // GITHUB_STATE unset here: @actions/core falls back to the ::save-state line
    const step = runnerSees();
    expect(step.annotations).toEqual([
      { type: "warning", message: "the Action's own warning", properties: {} },
    ]);
    expect(step.state).toEqual({ x: "y" });
  });

  it("a fresh token for every block, unguessable from an earlier one", () => {
    info("::a");
    info("::b");
    const tokens = written.join("").match(/^::stop-commands::(.*)$/gm);
    expect(tokens).toHaveLength(2);
    expect(new Set(tokens).size).toBe(2);
    expect(tokens?.every((t) => /^::stop-commands::[0-9a-f]{32}$/.test(t))).toBe(true);
  });

  it("ordinary lines are printed as they are: no block, no extra lines", () => {
    info("Step 2/5 : RUN pip install -r requirements.txt");
    info("  app | Listening on http://0.0.0.0:8080");
    expect(written.join("")).toBe(
      "Step 2/5 : RUN pip install -r requirements.txt\n  app | Listening on http://0.0.0.0:8080\n",
    );
  });
});

describe("the CLI in a workflow's `run:` step: JSON lines stay inert and keep their value", () => {
  it("a JSON event quoting the app's `##[…]` or `::…` lines is no command, and parses to the same text", () => {
    const event = { event: "failed", error: "exit 3", logLines: [...FORGED] };
    const line = inertJsonLine(`${JSON.stringify(event)}\n`);
    process.stdout.write(line);
    const step = runnerSees();
    expect(step.annotations).toEqual([]);
    expect(step.state).toEqual({});
    expect(step.failures).toEqual([]);
    expect(JSON.parse(line)).toEqual(event);
  });

  it("human text is wrapped only where a command could hide", () => {
    expect(plainForRunner("Preview live: https://x.ngrok.app\n")).toEqual({
      text: "Preview live: https://x.ngrok.app\n",
      wrapped: false,
    });
    process.stdout.write(plainForRunner(`${FORGED.join("\n")}\n`).text);
    expect(runnerSees().annotations).toEqual([]);
  });
});

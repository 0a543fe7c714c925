import { describe, expect, it } from "vitest";
import { lineSplitter, parseLegacy, parseV2, StepCommands } from "../support/workflow-commands.js";

// The runner harness's workflow commands against actions/runner's own tests (src/Test/L0/Worker/
// ActionCommandL0.cs, ActionCommandManagerL0.cs): the stand-in must take every line the runner takes.
const doSomething = new Set(["do-something"]);

describe("parsing, as ActionCommand.TryParse / TryParseV2", () => {
  it("legacy ##[...]: anywhere in the line, `;` between properties, its escapes", () => {
    expect(parseLegacy("##[do-something k1=v1;]msg", doSomething)).toEqual({
      command: "do-something",
      properties: { k1: "v1" },
      data: "msg",
    });
    expect(parseLegacy(">>>   ##[do-something k1=v1;]msg", doSomething)?.data).toBe("msg");
    expect(parseLegacy("##[do-something k1=%3B=%0D=%0A=%5D;]%3B-%0D-%0A-%5D", doSomething)).toEqual({
      command: "do-something",
      properties: { k1: ";=\r=\n=]" },
      data: ";-\r-\n-]",
    });
    expect(
      parseLegacy("##[do-something k1=%253B=%250D=%250A=%255D;]%253B-%250D-%250A-%255D", doSomething),
    ).toEqual({
      command: "do-something",
      properties: { k1: "%3B=%0D=%0A=%5D" },
      data: "%3B-%0D-%0A-%5D",
    });
    expect(parseLegacy("##[do-something k1=;k2=;]", doSomething)?.properties).toEqual({});
    expect(parseLegacy("##[do-something-else]x", doSomething)).toBeUndefined();
  });

  it("::...:: after leading white space only, `,` between properties, its escapes", () => {
    expect(parseV2("::do-something k1=v1,::msg", doSomething)).toEqual({
      command: "do-something",
      properties: { k1: "v1" },
      data: "msg",
    });
    expect(parseV2("::do-something::", doSomething)?.data).toBe("");
    expect(parseV2("::do-something k1=;=%2C=%0D=%0A=]=%3A,::;-%0D-%0A-]-:-,", doSomething)).toEqual({
      command: "do-something",
      properties: { k1: ";=,=\r=\n=]=:" },
      data: ";-\r-\n-]-:-,",
    });
    expect(parseV2("::do-something k1=,k2=,::", doSomething)?.properties).toEqual({});
    expect(parseV2("   ::do-something k1=v1,::msg", doSomething)?.data).toBe("msg");
    expect(parseV2("   >>>   ::do-something k1=v1,::msg", doSomething)).toBeUndefined();
    // .NET's TrimStart: U+00A0 and U+0085 are white space there.
    expect(parseV2("\u00a0\u0085::do-something::x", doSomething)?.data).toBe("x");
  });
});

describe("carrying out, as ActionCommandManager.TryProcessCommand", () => {
  it("stop-commands: nothing runs until `::TOKEN::`, which is masked; then commands run again", () => {
    const step = new StepCommands();
    const token = "my-unique-token-1234";
    expect(step.line(`::stop-commands::${token}`)).toBe(true);
    expect(step.line("::warning::ignored")).toBe(false);
    expect(step.line("##[save-state name=x]ignored")).toBe(false);
    expect(step.line("::stop-commands::other")).toBe(false);
    expect(step.line(`::${token}::`)).toBe(true);
    expect(step.line("::warning::taken")).toBe(true);
    expect(step.annotations).toEqual([{ type: "warning", message: "taken", properties: {} }]);
    expect(step.state).toEqual({});
    expect(step.masks).toContain(token);
    // The legacy form resumes too (StopProcessCommand).
    step.line("##[stop-commands]stopToken");
    expect(step.line("##[set-output name=a]b")).toBe(false);
    expect(step.line("##[stopToken]")).toBe(true);
  });

  it("refuses a stop token that is empty, pause-logging or a command, unless the env allows it", () => {
    for (const bad of ["", "pause-logging", "set-output"]) {
      const step = new StepCommands();
      step.line(`::stop-commands::${bad}`);
      expect(step.failures).toHaveLength(1);
      expect(
        new StepCommands({ ACTIONS_ALLOW_UNSECURE_STOPCOMMAND_TOKENS: "true" }).line(
          `::stop-commands::${bad}`,
        ),
      ).toBe(true);
    }
  });

  it("save-state and set-output on stdout are still taken; set-env and add-path fail the step", () => {
    const step = new StepCommands();
    step.line("::save-state name=container::abc");
    step.line("##[set-output name=url]http://x");
    step.line("::set-env name=A::b");
    step.line("::add-path::/evil");
    expect(step.state).toEqual({ container: "abc" });
    expect(step.outputs).toEqual({ url: "http://x" });
    expect(step.failures).toHaveLength(2);
    expect(step.annotations.map((a) => a.type)).toEqual(["error", "error"]);
  });

  it("annotations from ::warning:: / ##[error] / ::notice::, properties kept; names are case-insensitive", () => {
    const step = new StepCommands();
    step.line("::WARNING file=a.py,line=3::w");
    step.line("text before ##[error]e");
    step.line("  ::notice title=T::n%0Anext");
    expect(step.annotations).toEqual([
      { type: "warning", message: "w", properties: { file: "a.py", line: "3" } },
      { type: "error", message: "e", properties: {} },
      { type: "notice", message: "n\nnext", properties: { title: "T" } },
    ]);
  });

  it("echo takes on/off only (anything else fails the step)", () => {
    const step = new StepCommands();
    step.line("::echo::Off   ");
    expect(step.failures).toEqual([]);
    step.line("::echo::invalid");
    expect(step.failures).toHaveLength(1);
  });
});

describe("lines, as StreamReader.ReadLine cuts them", () => {
  it("at \\n, \\r\\n and a lone \\r, also across chunks", () => {
    const lines: string[] = [];
    const split = lineSplitter((l) => lines.push(l));
    for (const chunk of ["a\r", "\nb\rc", "\n", "d\r", "e", "\r"]) split.push(chunk);
    split.end();
    expect(lines).toEqual(["a", "b", "c", "d", "e"]);
  });
});

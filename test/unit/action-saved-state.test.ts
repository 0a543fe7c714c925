import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  carriesLabels,
  holderFilesBase,
  holderProcess,
  readSavedState,
} from "../../src/action/saved-state.js";
import type { SavedStateName } from "../../src/action/toolkit.js";

// The post step acts only on state this run wrote: the runner also takes `::save-state` from any line of
// main's output, so a value may have been forged by the pull request's build or app output.
const temp = mkdtempSync(join(tmpdir(), "ml-preview-saved-state-"));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

const env = {
  GITHUB_REPOSITORY: "octo-org/ml-app",
  GITHUB_RUN_ID: "1001",
  GITHUB_RUN_ATTEMPT: "2",
  RUNNER_TEMP: temp,
  INPUT_NAME: "app",
};
const labels = {
  "ml-preview.repo": "octo-org/ml-app",
  "ml-preview.pr": "12",
  "ml-preview.run": "1001.2",
  "ml-preview.name": "app",
};
const events = `${holderFilesBase(env, "app", 4242)}.events`;
const good: Partial<Record<SavedStateName, string>> = {
  started: "true",
  labels: JSON.stringify(labels),
  container: "a".repeat(64),
  comment: "123456",
  deployment: "99",
  holder: "4242",
  events,
  finished: "true",
  outcome: "expired",
  "comment-shows": "live",
};
const read = (state: Partial<Record<SavedStateName, string>>) => (name: SavedStateName) => state[name] ?? "";

describe("readSavedState", () => {
  it("takes what this run wrote", () => {
    writeFileSync(events, "");
    const { state, ignored } = readSavedState(read(good), env);
    expect(ignored).toEqual([]);
    expect(state).toEqual({
      started: true,
      labels,
      container: "a".repeat(64),
      comment: 123456,
      deployment: 99,
      holder: 4242,
      events,
      finished: true,
      outcome: "expired",
      commentShows: "live",
    });
  });

  it("ignores, and names, a non-numeric comment id, a container that is no id, a pid that is no pid", () => {
    const { state, ignored } = readSavedState(
      read({ ...good, comment: "12; DROP", deployment: "0x10", container: "../../etc", holder: "-1" }),
      env,
    );
    expect(state).toMatchObject({
      comment: undefined,
      deployment: undefined,
      container: undefined,
      holder: undefined,
    });
    expect(ignored).toEqual([
      expect.stringMatching(/^container "..\/..\/etc" \(not a container id\)/),
      expect.stringMatching(/^comment "12; DROP" \(not a comment id\)/),
      expect.stringMatching(/^deployment "0x10"/),
      expect.stringMatching(/^holder "-1" \(not a pid\)/),
    ]);
  });

  it("ignores a path outside this job's RUNNER_TEMP, of another shape, or a link", () => {
    const elsewhere = join(temp, "sub");
    mkdirSync(elsewhere, { recursive: true });
    const link = `${holderFilesBase(env, "app", 777)}.events`;
    symlinkSync(join(elsewhere, "victim"), link);
    for (const path of [
      "/etc/passwd",
      join(elsewhere, "ml-preview-app-1.events"),
      join(temp, "victim.txt"),
      join(temp, "ml-preview-app-1.events/../victim.events"),
      `${temp}/../ml-preview-app-1.events`,
      link,
    ]) {
      const { state, ignored } = readSavedState(read({ ...good, events: path }), env);
      expect(state.events, path).toBeUndefined();
      expect(ignored, path).toEqual([expect.stringContaining("not a file this run made")]);
    }
  });

  it("ignores labels of another run, and then everything: nothing can be told to be this run's", () => {
    for (const forged of [
      { ...labels, "ml-preview.run": "999.1" },
      { ...labels, "ml-preview.repo": "someone/else" },
      { ...labels, "ml-preview.name": "other" },
      { ...labels, extra: "x" },
      "not json",
    ]) {
      const raw = typeof forged === "string" ? forged : JSON.stringify(forged);
      const { state, ignored } = readSavedState(read({ ...good, labels: raw }), env);
      expect(state.started).toBe(false);
      expect(state.labels).toBeUndefined();
      expect(ignored[0]).toMatch(/^labels .*not this run's labels/);
    }
  });

  it("ignores a state that names no preview state", () => {
    const { state, ignored } = readSavedState(read({ ...good, outcome: "pwned", finished: "yes" }), env);
    expect(state.outcome).toBeUndefined();
    expect(state.finished).toBe(false);
    expect(ignored).toHaveLength(2);
  });
});

describe("carriesLabels: is a saved container id one of this run's containers?", () => {
  it("not an unrelated container (no labels, or another run's)", () => {
    expect(carriesLabels(undefined, labels)).toBe(false);
    expect(carriesLabels({}, labels)).toBe(false);
    expect(carriesLabels({ ...labels, "ml-preview.run": "1000.1" }, labels)).toBe(false);
    expect(carriesLabels({ ...labels, other: "x" }, labels)).toBe(true);
  });
});

describe("holderProcess: is a saved pid this job's holder?", () => {
  it("not another process, nor a gone one; yes for `node <dist>/holder.js` started for this events file", async () => {
    const script = join(temp, "holder.js");
    writeFileSync(script, "setInterval(() => {}, 1000);");
    const other = spawn("sleep", ["30"]);
    const mine = spawn(process.execPath, [script], { env: { ML_PREVIEW_EVENTS_FILE: events } });
    const elsewhere = spawn(process.execPath, [script], { env: { ML_PREVIEW_EVENTS_FILE: `${events}.x` } });
    try {
      await Promise.all([other, mine, elsewhere].map((p) => new Promise((r) => p.once("spawn", r))));
      expect(holderProcess(other.pid!, events, script)).toBe("other");
      expect(holderProcess(elsewhere.pid!, events, script)).toBe("other");
      expect(holderProcess(mine.pid!, events, script)).toBe("ours");
      const gone = spawnSync(process.execPath, ["-e", "0"]).pid;
      expect(holderProcess(gone, events, script)).toBe("gone");
    } finally {
      for (const p of [other, mine, elsewhere]) p.kill("SIGKILL");
    }
  });
});

import { spawnSync } from "node:child_process";
import { hostname } from "node:os";
import { describe, expect, it } from "vitest";
import { holderEnded, thisHolder } from "../../src/docker/sweep.js";

describe("holderEnded: is the run that holds a container over?", () => {
  it("not while its process runs", () => {
    expect(thisHolder()).toMatch(new RegExp(`^${hostname()}/${process.pid}/\\d+$`));
    expect(holderEnded(thisHolder())).toBe(false);
  });

  it("yes once its process is gone", () => {
    const gone = spawnSync(process.execPath, ["-e", "0"]).pid;
    expect(holderEnded(`${hostname()}/${gone}/12345`)).toBe(true);
  });

  it("yes when the pid now belongs to another process (a different start time)", () => {
    const [host, pid, start] = thisHolder().split("/");
    expect(holderEnded(`${host}/${pid}/${Number(start) + 1}`)).toBe(true);
  });

  it("cannot tell for another machine or a container without the label: left alone", () => {
    expect(holderEnded(`elsewhere-${hostname()}/1/1`)).toBe(false);
    expect(holderEnded(undefined)).toBe(false);
    expect(holderEnded("garbage")).toBe(false);
  });
});

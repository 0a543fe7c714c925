import { spawnSync } from "node:child_process";
import { hostname } from "node:os";
import { describe, expect, it } from "vitest";
import { holderFate, thisHolder } from "../../src/docker/sweep.js";

describe("holderFate: is the run that holds a container over?", () => {
  it("not while its process runs", () => {
    expect(thisHolder()).toMatch(new RegExp(`^${hostname()}/${process.pid}/\\d+$`));
    expect(holderFate(thisHolder())).toBe("running");
  });

  it("yes once its process is gone", () => {
    const gone = spawnSync(process.execPath, ["-e", "0"]).pid;
    expect(holderFate(`${hostname()}/${gone}/12345`)).toBe("ended");
  });

  it("yes when the pid now belongs to another process (a different start time)", () => {
    const [host, pid, start] = thisHolder().split("/");
    expect(holderFate(`${host}/${pid}/${Number(start) + 1}`)).toBe("ended");
  });

  it("cannot tell for another machine or a container without the label: left alone", () => {
    expect(holderFate(`elsewhere-${hostname()}/1/1`)).toBe("unknown");
    expect(holderFate(undefined)).toBe("unknown");
    expect(holderFate("garbage")).toBe("unknown");
  });
});

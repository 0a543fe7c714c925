import type Docker from "dockerode";
import { describe, expect, it } from "vitest";
import { UNKNOWN_EXIT_CODE, watchExit } from "../../src/docker/exit.js";

const reset = () => Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });

/**
 * A container as the engine answers it through an outage: the first wait connection drops, the next
 * inspection fails (the engine is away), then the engine is back with the container still running,
 * and the second wait reads its real exit.
 */
function containerThroughOutage() {
  const waits: { resolve: (r: { StatusCode: number }) => void; reject: (e: Error) => void }[] = [];
  const inspections: (() => Promise<unknown>)[] = [
    async () => {
      throw reset();
    },
    async () => ({ State: { Running: true } }),
  ];
  let exited = false;
  const container = {
    wait: () =>
      new Promise<{ StatusCode: number }>((resolve, reject) => {
        waits.push({ resolve, reject });
        if (waits.length === 1) reject(reset());
        else {
          exited = true;
          resolve({ StatusCode: 3 });
        }
      }),
    inspect: () => {
      const next = inspections.shift();
      if (next) return next();
      return Promise.resolve({ State: exited ? { Running: false, ExitCode: 3 } : { Running: true } });
    },
  } as unknown as Docker.Container;
  return { container, waits };
}

describe("watchExit", () => {
  it("a dropped wait followed by one failed inspection is an outage, retried, not an unknown exit", async () => {
    const { container, waits } = containerThroughOutage();
    let rearmed = 0;
    const exit = await watchExit(container, { onRearm: () => rearmed++ });
    expect(exit.exitCode).not.toBe(UNKNOWN_EXIT_CODE);
    expect(exit).toEqual({ exitCode: 3 });
    expect(waits).toHaveLength(2);
    expect(rearmed).toBe(1);
  });

  it("the engine saying the container is gone is an unknown exit", async () => {
    const gone = Object.assign(new Error("no such container"), { statusCode: 404 });
    const container = {
      wait: () => Promise.reject(reset()),
      inspect: () => Promise.reject(gone),
    } as unknown as Docker.Container;
    expect(await watchExit(container)).toEqual({ exitCode: UNKNOWN_EXIT_CODE });
  });
});

import type Docker from "dockerode";
import { pollUntilReady } from "./poll.js";
import type { ReadinessStrategy } from "./types.js";

/** Docker runs the check itself (every `--interval`); reading the result more often than this is waste. */
const HEALTH_POLL_MS = 250;

/** Whether the container's config carries a HEALTHCHECK that Docker will run. */
export function hasHealthcheck(config: { Healthcheck?: { Test?: string[] } } | undefined): boolean {
  const test = config?.Healthcheck?.Test;
  return Array.isArray(test) && test.length > 0 && test[0] !== "NONE";
}

/** Ready when the image's own HEALTHCHECK reports "healthy". "unhealthy" is noted but waited out. */
export function dockerHealthStrategy(docker: Docker, containerId: string): ReadinessStrategy {
  const container = docker.getContainer(containerId);
  return {
    name: "docker HEALTHCHECK",
    until: (ctx) =>
      pollUntilReady(
        ctx,
        async (signal) => {
          const info = await container.inspect({ abortSignal: signal }).catch(() => undefined);
          const health = info?.State.Health;
          if (health?.Status === "healthy") return "ready";
          const last = health?.Log?.at(-1)?.Output?.trim().split("\n").at(-1);
          ctx.note(`HEALTHCHECK: ${health?.Status ?? "unknown"}${last ? ` (${last.slice(0, 200)})` : ""}`);
          // "up": its status is checked on Docker's schedule, log lines are no reason to look sooner.
          return "up";
        },
        () => HEALTH_POLL_MS,
      ),
  };
}

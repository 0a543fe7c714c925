import type Docker from "dockerode";
import { detectFramework, type FrameworkName, type LaunchSpec } from "../framework.js";
import { pollUntilReady } from "./poll.js";
import type { ReadinessStrategy } from "./types.js";

/** What the container's config says about how to tell it is ready. */
export interface ContainerFacts extends LaunchSpec {
  readonly healthcheck?: { Test?: string[] };
  /** The image's EXPOSEd ports ("5000/tcp" keys), to tell a port mix-up. */
  readonly exposedPorts?: Readonly<Record<string, unknown>> | null;
}

export interface ReadinessPlan {
  /** Always probed: the `health-path` input, else the framework's health path, else `/`. */
  readonly httpPath: string;
  /** Also race the image's own HEALTHCHECK (Docker runs it; the first to say ready wins). */
  readonly dockerHealth: boolean;
  readonly framework?: FrameworkName;
}

/**
 * Framework-aware defaults: Streamlit answers /_stcore/health only once it can serve sessions, Gradio
 * and the rest serve `/`. An explicit `health-path` always wins.
 */
export function readinessPlan(facts: ContainerFacts | undefined, healthPath?: string): ReadinessPlan {
  const framework = facts ? detectFramework(facts) : undefined;
  const path = healthPath ?? framework?.healthPath ?? "/";
  return {
    httpPath: path.startsWith("/") ? path : `/${path}`,
    dockerHealth: hasHealthcheck({ Healthcheck: facts?.healthcheck }),
    ...(framework ? { framework: framework.name } : {}),
  };
}

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

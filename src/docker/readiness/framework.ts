import { detectFramework, type FrameworkName, type LaunchSpec } from "../framework.js";
import { hasHealthcheck } from "./docker-health.js";

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

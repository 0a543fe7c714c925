import { PreviewError } from "../errors.js";
import { declaredPort, detectFramework, type FrameworkName, type LaunchSpec } from "./framework.js";

/** What decides the container port: the `port` input, and what `docker inspect` says about the image. */
export interface PortFacts {
  readonly requested?: number;
  /** The image's Config.ExposedPorts (keys like "8080/tcp"); null when it exposes nothing. */
  readonly exposedPorts?: Readonly<Record<string, unknown>> | null;
  /** The container's effective start: image entrypoint, cmd (or the `command` input) and env (plus `env`). */
  readonly launch: LaunchSpec;
}

export interface ResolvedPort {
  readonly port: number;
  readonly source: "input" | "expose" | "framework";
  readonly framework?: FrameworkName;
}

/**
 * The `port` input, else the image's single EXPOSEd TCP port, else the port of the framework its command
 * runs (its own port flag/env knob first, then the framework's default). Several EXPOSEd ports are
 * settled by the framework's port when it is one of them. Anything else is an error asking for `port`.
 */
export function resolveContainerPort(facts: PortFacts): ResolvedPort {
  if (facts.requested !== undefined) return { port: facts.requested, source: "input" };
  const exposed = exposedTcpPorts(facts.exposedPorts);
  if (exposed.length === 1) return { port: exposed[0]!, source: "expose" };

  const framework = detectFramework(facts.launch);
  const port = framework && (declaredPort(framework, facts.launch) ?? framework.defaultPort);
  if (framework && port !== undefined && (exposed.length === 0 || exposed.includes(port))) {
    return { port, source: "framework", framework: framework.name };
  }
  if (exposed.length > 1) {
    throw new PreviewError(
      "run",
      `The image EXPOSEs several ports (${exposed.join(", ")}) and ml-preview cannot tell which one serves the app. ` +
        "Set the `port` input (CLI: --port) to the port the app listens on.",
      { code: "PORT_AMBIGUOUS" },
    );
  }
  throw new PreviewError(
    "run",
    "Could not tell which port the app listens on: the image EXPOSEs no port and its command names no known " +
      "framework (Streamlit, Gradio, Dash, Flask, FastAPI/uvicorn, Voila). Set the `port` input (CLI: --port), " +
      "or add `EXPOSE <port>` to the Dockerfile.",
    { code: "PORT_UNKNOWN" },
  );
}

/** TCP ports from ExposedPorts keys ("8080/tcp", "8080"), sorted; UDP ones cannot carry HTTP. */
export function exposedTcpPorts(exposedPorts: PortFacts["exposedPorts"]): number[] {
  const ports = Object.keys(exposedPorts ?? {})
    .map((key) => /^(\d+)(?:\/tcp)?$/i.exec(key)?.[1])
    .filter((p): p is string => p !== undefined)
    .map(Number);
  return [...new Set(ports)].sort((a, b) => a - b);
}

import { PreviewError, type PreviewStep } from "../errors.js";
import { registryOf } from "./image-ref.js";
import { hostInMessage, registryProblem, shortCause } from "./registry-errors.js";

export interface PullContext {
  readonly step: PreviewStep;
  /** The image that could not be pulled. */
  readonly ref: string;
  /** Whether registry credentials were given. */
  readonly withCredentials: boolean;
  /** Words put before the explanation, e.g. "The build failed at Step 1/4 : FROM python:3.12-slim:". */
  readonly prefix?: string;
  /** What "use it" means for this image: the `image` input, or a base image of the Dockerfile. */
  readonly role: "image" | "base image";
}

/**
 * An engine error about pulling `ref`, as a message that names the registry and says what to do;
 * undefined when the error is not about a registry (the caller reports it as is).
 */
export function pullError(message: string, ctx: PullContext, cause?: unknown): PreviewError | undefined {
  const problem = registryProblem(message);
  if (problem === "other") return undefined;
  const registry = registryOf(ctx.ref);
  const host = hostInMessage(message);
  // The host the engine could not reach, when it is not the registry itself (an auth or CDN host).
  const reach = host && host !== registry.host ? host : registry.host;
  const where = reach === registry.host ? registry.display : reach;
  const lead = ctx.prefix ? `${ctx.prefix} ` : "";
  const text = {
    unreachable:
      `${lead}cannot pull the ${ctx.role} ${ctx.ref}: the registry ${where} is unreachable from the Docker engine ` +
      `(${shortCause(message)}). Let the runner reach ${reach} (network, proxy, firewall); ` +
      `or pull ${ctx.ref} into the engine before this step; or use an image from a registry the runner can reach.`,
    "not-found":
      `${lead}the ${ctx.role} ${ctx.ref} was not found on ${registry.display}. Check its name and tag` +
      (ctx.withCredentials
        ? ", and that registry-username can read it."
        : "; if it is private, set registry-username and registry-password."),
    unauthorized: ctx.withCredentials
      ? `${lead}${registry.display} refused the credentials for ${ctx.ref} (${shortCause(message)}). ` +
        `Check registry-username and registry-password (a token needs read access to the package).`
      : `${lead}${registry.display} requires credentials for ${ctx.ref}. Set registry-username and registry-password.`,
  }[problem];
  const code = {
    unreachable: "DOCKER_REGISTRY_UNREACHABLE",
    "not-found": "DOCKER_IMAGE_NOT_FOUND",
    unauthorized: "DOCKER_REGISTRY_AUTH",
  }[problem];
  return new PreviewError(ctx.step, capitalise(text), { code, cause });
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

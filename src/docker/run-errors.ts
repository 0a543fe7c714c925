import { PreviewError } from "../errors.js";
import { engineMessage } from "./docker-errors.js";

/** Engine messages we can turn into advice, first match wins. */
const ADVICE: readonly [RegExp, string][] = [
  [
    /could not select device driver .*capabilities: \[\[gpu\]\]/i,
    "This Docker host has no GPU runtime (NVIDIA Container Toolkit). Remove `gpus`, or run on a runner with GPUs.",
  ],
  [/Minimum memory limit allowed is/i, "The `memory` limit is too low for Docker: raise it (e.g. `512m`)."],
  [/Range of CPUs is from/i, "The `cpus` limit is more than this Docker host has: lower it."],
  [
    /No such image/i,
    "The image is not on this Docker host any more: run the preview again to rebuild or pull it.",
  ],
  [
    /executable file not found|no such file or directory/i,
    "Check the image's CMD/ENTRYPOINT or the `command` input.",
  ],
];

/** A create/start failure as the error the lifecycle reports (step "run"), with advice when we have it. */
export function runError(err: unknown, scrub: (text: string) => string = (t) => t): PreviewError {
  if (err instanceof PreviewError) return err;
  const message = scrub(engineMessage(err));
  const advice =
    ADVICE.find(([pattern]) => pattern.test(message))?.[1] ?? "Check the Docker engine's message above.";
  return new PreviewError("run", `Docker could not start the app's container: ${message}. ${advice}`, {
    code: "DOCKER_RUN_FAILED",
    cause: err,
  });
}

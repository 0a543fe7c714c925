import type { PreviewDeployment } from "../../github/deployment.js";
import type { PreviewEvent, Reporter } from "../../lifecycle/types.js";
import { FINAL_STATES } from "../../lifecycle/types.js";

/** A GitHub Deployment: in_progress while building, success with the URL when live, inactive at the end. */
export function deploymentReporter(deployment: PreviewDeployment): Reporter {
  return {
    name: "deployment",
    async report(e: PreviewEvent) {
      if (e.event === "building") await deployment.start();
      else if (e.event === "live" && e.details.url) await deployment.live(e.details.url);
      else if (FINAL_STATES.includes(e.event as never) && e.event !== "skipped")
        await deployment.end(e.event as never);
    },
  };
}

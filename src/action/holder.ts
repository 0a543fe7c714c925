import * as core from "@actions/core";
import { eventsFileReporter } from "../lifecycle/events-file.js";
import { runPreview } from "../lifecycle/preview.js";
import type { Reporter } from "../lifecycle/types.js";
import { scrubHolderOutput } from "./holder-output.js";
import { setupAction } from "./setup.js";
import { failOnUncaught } from "./toolkit.js";

/** How long the step's return waits for the live comment: a slow GitHub must not hold the job's next steps. */
const COMMENT_BEFORE_LIVE_MS = 10_000;

/**
 * The detached holder of a `wait: false` preview: same inputs (inherited env), same lifecycle; events go to
 * the file the main step follows. SIGTERM comes from the post step at the end of the job.
 */
export async function holderMain(): Promise<void> {
  // First of all: its log is a file on the runner's disk, which nothing masks.
  scrubHolderOutput();
  // main echoes this log into the step's: an error (which may quote the build) goes out escaped, never as
  // raw lines the runner could take for commands. main validated the same inputs a moment ago, so this is
  // GitHub or the engine failing: the stack only in the debug log.
  failOnUncaught("ml-preview holder");
  await hold().catch((err: Error) => {
    core.error(`ml-preview holder: ${err.message}`);
    if (err.stack) core.debug(err.stack);
    process.exit(1);
  });
}

async function hold(): Promise<void> {
  const events = process.env.ML_PREVIEW_EVENTS_FILE;
  if (!events) throw new Error("holder started without ML_PREVIEW_EVENTS_FILE");
  // Stopped by the post step (SIGTERM) or a cancel: one try at the final state, the post step repairs it.
  const stopped = new AbortController();
  const setup = await setupAction(process.env, {}, { stop: stopped.signal });
  if (setup.kind !== "preview") throw new Error(`holder: unexpected setup ${setup.kind}`);
  process.on("SIGTERM", () =>
    stopped.abort("the job ended (with wait: false a preview lives as long as its job)"),
  );
  process.on("SIGINT", () => stopped.abort("the workflow run was cancelled"));
  const file = eventsFileReporter(events, () => ({
    commentId: setup.comment?.id,
    deploymentId: setup.deployment?.id,
    commentShows: setup.commentShows(),
  }));
  // The step returns when the file says live: let the comment say so first, but never wait long on GitHub.
  const afterComment: Reporter = {
    name: file.name,
    async report(e) {
      if (e.event === "live") await setup.commentSettled(COMMENT_BEFORE_LIVE_MS);
      return file.report(e);
    },
  };
  await runPreview(setup.config, setup.deps(stopped.signal, [afterComment]));
}

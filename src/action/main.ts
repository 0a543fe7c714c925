import * as core from "@actions/core";
import { renderSummary } from "../github/summary.js";
import { repairStaleComments } from "../github/sweep.js";
import { runPreview } from "../lifecycle/preview.js";
import type { PreviewEvent, Reporter } from "../lifecycle/types.js";
import { answerCommand, readCommand } from "./command.js";
import { startDetached } from "./detach.js";
import { outputsReporter } from "./reporters.js";
import { type ActionSetup, setupAction, stopOnSignals } from "./setup.js";
import { actionsLogger, failOnUncaught, info, saveState } from "./toolkit.js";

/** The action's main step: validate, then hold the preview here (wait: true) or in a detached holder. */
export async function actionMain(): Promise<void> {
  failOnUncaught("ml-preview");
  try {
    const command = readCommand(process.env);
    if (command === "ignored") return info("ml-preview: this comment is not a /preview command.");
    // The runner's SIGTERM (7.5 s after its cancel's SIGINT) says: end now, the post step takes over.
    const finalStop = new AbortController();
    process.once("SIGTERM", () => finalStop.abort());
    const setup = await setupAction(process.env, {}, { stop: finalStop.signal });
    // A PR command answered here (stop, extend, refused) needs no preview of its own.
    if (command && setup.kind === "preview" && !(await answerCommand(command, setup))) return;
    await runSetup(setup);
  } catch (err) {
    core.setFailed(`ml-preview: ${(err as Error).message}`);
  }
}

async function runSetup(setup: ActionSetup): Promise<void> {
  if (setup.kind === "invalid") {
    // One ::error:: per bad input, each naming it; nothing has started.
    for (const line of setup.message.split("\n")) core.error(line);
    process.exitCode = 1;
    return;
  }
  if (setup.kind === "refuse") return core.setFailed(setup.message);
  if (setup.kind === "skip") {
    core.notice(`ml-preview skipped: ${setup.reason}`);
    core.setOutput("status", "skipped");
    const report = { state: "skipped" as const, details: { reason: setup.reason, hint: setup.hint } };
    await core.summary.addRaw(renderSummary(report, { name: setup.name, run: setup.run })).write();
    return;
  }

  saveState("started", "true");
  saveState("labels", JSON.stringify(setup.labels));
  // Beside the preview, never in its way: other previews' comments on this PR left saying live by ended runs.
  if (setup.pr && setup.config.github.comment)
    void repairStaleComments(
      setup.octokit,
      setup.run,
      setup.pr.number,
      setup.config.name,
      actionsLogger,
    ).catch((err: Error) =>
      core.debug(`Could not look for stale preview comments of ended runs: ${err.message}`),
    );
  if (!setup.config.wait) {
    const last = await startDetached(setup.run, setup.config, process.env);
    if (last.event === "failed")
      core.setFailed(`Preview failed at ${last.details.step}: ${last.details.error}`);
    else if (last.event === "live")
      info("The preview stays up while the next steps run; the post step ends it.");
    return;
  }

  const controller = new AbortController();
  stopOnSignals(controller);
  const saveComment: Reporter = {
    name: "saved state",
    async report(_e: PreviewEvent) {
      if (setup.comment?.id !== undefined) saveState("comment", String(setup.comment.id));
      if (setup.deployment?.id !== undefined) saveState("deployment", String(setup.deployment.id));
    },
  };
  const outputs = outputsReporter(
    setup.run,
    setup.config.name,
    { commentId: () => setup.comment?.id },
    { summaryOnLive: false, secrets: setup.config.secrets },
  );
  const result = await runPreview(setup.config, {
    ...setup.deps(controller.signal, [outputs, saveComment]),
    onResource: (kind, id) => {
      if (kind === "container") saveState("container", id);
    },
  });
  saveState("finished", "true");
  saveState("outcome", result.state);
  // GitHub may have refused the last write even after retries: the post step tries once more.
  saveState("comment-shows", setup.commentShows() ?? "");
  if (result.state === "failed")
    core.setFailed(`Preview failed at ${result.details.step}: ${result.details.error}`);
}

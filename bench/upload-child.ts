/**
 * Run as its own process by the upload figure, so its peak RSS is ours alone: builds <context> through
 * buildWithEngine (the classic builder over the engine API, the context streamed by createContextStream)
 * and prints one JSON line with the time, the bytes sent and the peak RSS.
 */
import { buildWithEngine } from "../src/docker/build.js";
import { dockerClient } from "../src/docker/client.js";
import type { PreviewLabels } from "../src/docker/types.js";
import { benchLogger } from "./log.js";

async function main(): Promise<void> {
  const [context, tag, labelsJson] = process.argv.slice(2);
  const log = benchLogger();
  const t0 = performance.now();
  const result = await buildWithEngine(
    dockerClient(),
    {
      context: context!,
      dockerfile: "Dockerfile",
      buildArgs: {},
      tag: tag!,
      labels: JSON.parse(labelsJson!) as PreviewLabels,
    },
    log,
  );
  process.stdout.write(
    `${JSON.stringify({
      buildMs: performance.now() - t0,
      contextBytes: result.contextBytes,
      imageId: result.imageId,
      maxRssKb: process.resourceUsage().maxRSS,
      cpuMs: (process.cpuUsage().user + process.cpuUsage().system) / 1000,
    })}\n`,
  );
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${(err as Error)?.message ?? err}\n`);
    process.exit(1);
  },
);

/**
 * Run as its own process by the model-cache figure: the Actions cache stand-in (test/support/actions-cache)
 * out of the bench process, as GitHub's service is out of the runner's, so receiving and serving 500 MB of
 * blobs does not slow the bench's own client. Prints one JSON line, the job env for a PR token that also
 * reads the default branch, then serves until its stdin closes.
 */
import { ActionsCacheService } from "../test/support/actions-cache/index.js";

async function main(): Promise<void> {
  const service = await ActionsCacheService.start();
  const token = service.tokenFor("refs/pull/12/merge", ["refs/heads/main"]);
  process.stdout.write(`${JSON.stringify(service.env(token))}\n`);
  process.stdin.resume();
  process.stdin.once("end", () => void service.close().finally(() => process.exit(0)));
}

main().catch((err: unknown) => {
  process.stderr.write(`cache service: ${(err as Error)?.stack ?? err}\n`);
  process.exit(1);
});

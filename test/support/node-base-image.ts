import { execFileSync } from "node:child_process";
import { join } from "node:path";

/**
 * Docker Hub is unreachable here, so the container image is tested on the base the README tells such hosts
 * to make: scripts/node-base-image.sh (this machine's node, the libraries it and dist/'s ngrok addon need,
 * a static busybox as /bin/sh), used as the Dockerfile's NODE_IMAGE.
 */
export function importNodeBaseImage(repoDir: string, tag: string): void {
  execFileSync("bash", [join(repoDir, "scripts/node-base-image.sh"), tag], { stdio: "pipe" });
}

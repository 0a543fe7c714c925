// Which example scripts/preview-example.sh previews: prints its folder on stdout.
//
//   node scripts/choose-example.mjs [preferred-folder]     (default examples/dash-tips)
//
// The preferred example (the seed's Dash app) needs its base images from a registry — Docker Hub for
// python:3.12-slim — and PyPI. When the Docker engine has a base image neither locally nor within reach
// (asked through the engine itself, so its proxy and mirror settings count), this prints
// examples/debian-tips instead, which builds from the host's Debian mirror alone, and says why in ONE line
// on stderr. ML_PREVIEW_EXAMPLE=<folder> skips the probe and previews that folder (e.g. examples/debian-tips
// where Docker Hub answers but PyPI does not).
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const FALLBACK = "examples/debian-tips";
const PROBE_TIMEOUT_MS = 30_000;

const forced = process.env.ML_PREVIEW_EXAMPLE;
if (forced !== undefined) {
  if (!existsSync(join(resolve(root, forced), "Dockerfile"))) {
    process.stderr.write(
      `preview-example: ML_PREVIEW_EXAMPLE=${forced} is not a folder with a Dockerfile; ` +
        "set it to examples/dash-tips or examples/debian-tips, or unset it to let the script choose.\n",
    );
    process.exit(2);
  }
  process.stdout.write(`${forced}\n`);
  process.exit(0);
}

const preferred = process.argv[2] ?? "examples/dash-tips";
const { dockerClient } = createRequire(import.meta.url)("../dist/index.js");
const docker = dockerClient();
for (const image of baseImages(readFileSync(join(resolve(root, preferred), "Dockerfile"), "utf8"))) {
  const missing = await unreachable(image);
  if (missing) {
    process.stderr.write(
      `preview-example: the Docker engine cannot get ${image} from ${registryOf(image)} (${missing}), ` +
        `so this previews ${FALLBACK} instead: the same tips explorer, built only from this machine's Debian mirror.\n`,
    );
    process.stdout.write(`${FALLBACK}\n`);
    process.exit(0);
  }
}
process.stdout.write(`${preferred}\n`);
process.exit(0);

/** The images a Dockerfile's stages start FROM, without `scratch` and earlier stages' names. */
function baseImages(dockerfile) {
  const stages = new Set(["scratch"]);
  const images = [];
  for (const [, image, , stage] of dockerfile.matchAll(/^\s*FROM\s+(?:--\S+\s+)*(\S+)(\s+AS\s+(\S+))?/gim)) {
    // An image named by a build arg is only known at build time: nothing to probe.
    if (!stages.has(image.toLowerCase()) && !image.includes("$")) images.push(image);
    if (stage) stages.add(stage.toLowerCase());
  }
  return images;
}

/** Why the engine can neither find `image` locally nor reach it in its registry; undefined when it can. */
async function unreachable(image) {
  try {
    await docker.getImage(image).inspect();
    return undefined;
  } catch {
    // Not local: ask the engine to resolve it in its registry (a manifest lookup, nothing is pulled).
  }
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer within ${PROBE_TIMEOUT_MS / 1000} s`)),
      PROBE_TIMEOUT_MS,
    );
  });
  try {
    await Promise.race([docker.getImage(image).distribution(), timeout]);
    return undefined;
  } catch (err) {
    const body = err?.json?.message ?? err?.message ?? String(err);
    return String(body).replace(/\s+/g, " ").trim();
  } finally {
    clearTimeout(timer);
  }
}

function registryOf(image) {
  const first = image.split("/")[0];
  return image.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost")
    ? first
    : "Docker Hub";
}

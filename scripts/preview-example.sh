#!/usr/bin/env bash
# The README's first Quick start command: sets this machine up (the Docker engine; no npm packages and none
# of the tests' tools: dist/ is one bundle that needs none) and previews examples/dash-tips with the CLI from
# dist/. Where the Docker engine cannot reach Docker Hub it says so in one line and previews
# examples/debian-tips instead, built from this machine's Debian mirror on a base image made (once, then
# cached) by scripts/debian-base-image.sh. ML_PREVIEW_EXAMPLE=<folder> picks the example.
# With NGROK_AUTHTOKEN set the URL is public; without, local. Extra arguments go to `ml-preview up`
# (e.g. --duration 10m). Ctrl-C ends the preview and removes its container.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --example
example="$(node scripts/choose-example.mjs)"
build_args=()
if [ "$(realpath "$example")" = "$(realpath examples/debian-tips)" ]; then
  base="$(bash scripts/debian-base-image.sh)"
  build_args=(--build-arg "BASE_IMAGE=$base")
fi
exec node dist/cli.js up "$example" ${build_args[@]+"${build_args[@]}"} "$@"

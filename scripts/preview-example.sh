#!/usr/bin/env bash
# The README's first Quick start command: sets this machine up (npm deps, Docker engine) and previews
# examples/dash-tips with the CLI from dist/. With NGROK_AUTHTOKEN set the URL is public; without, local.
# Extra arguments go to `ml-preview up` (e.g. --duration 10m).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node dist/cli.js up examples/dash-tips "$@"

#!/usr/bin/env bash
# The README's test command: sets up everything the suite needs (npm deps, Docker engine, busybox-static),
# then runs lint, type-check, the dist staleness check, unit and e2e tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The runner's Node.js (node24): e2e tests run dist/ with it where a path differs by node version.
bash scripts/runner-node.sh >/dev/null
# e2e tests fail (never skip) without an engine under CI=true.
export CI="${CI:-true}"
npm test

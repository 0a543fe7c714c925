#!/usr/bin/env bash
# Installs what this machine is missing to run ml-preview and its tests (Debian/Ubuntu, root or sudo),
# and makes sure a Docker engine answers. Idempotent.
#
#   bash scripts/setup.sh             everything the test suite needs (apt packages, `npm ci`, the engine)
#   bash scripts/setup.sh --example   only what running the CLI from dist/ needs (Node.js, the engine):
#                                     dist/ is one bundle that loads no npm package, so no `npm ci`, and none
#                                     of the tests' tools (chromium alone is ~350 MB)
set -euo pipefail
cd "$(dirname "$0")/.."
example=false
case "${1:-}" in
  "") ;;
  --example) example=true ;;
  *)
    echo "setup: unknown argument \"$1\": run it with no argument (for the tests) or with --example." >&2
    exit 2
    ;;
esac

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# Node.js 20+ with npm runs the tests and the CLI (Debian's own nodejs is older: install it from nodejs.org
# or nvm first).
if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' 2>/dev/null; then
  echo "setup: Node.js 20 or newer is required (found: $(node --version 2>/dev/null || echo none)). Install it, then run this again." >&2
  exit 1
fi

need=()
# Debian's docker.io ships both the engine (dockerd) and the docker CLI (/usr/bin/docker): the
# context tests compare what ml-preview sends with what `docker build` sends, so both must be here.
if ! command -v docker >/dev/null 2>&1 || ! { command -v dockerd >/dev/null 2>&1 || docker info >/dev/null 2>&1; }; then
  need+=(docker.io)
fi
# The rest is for the tests only.
if [ "$example" = false ]; then
  # mkfifo/mknod/touch (coreutils) and setpriv (util-linux) make the context tests' special files and
  # unprivileged runs; both are part of every Debian base system.
  # Test images are FROM scratch with a static busybox: Docker Hub is not needed.
  if ! { [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1; }; then need+=(busybox-static); fi
  command -v docker-registry >/dev/null 2>&1 || need+=(docker-registry)
  command -v openssl >/dev/null 2>&1 || need+=(openssl)
  # The comment's QR test renders it as GitHub does (headless Chromium) and scans the screenshot (zbar); the
  # notebook recipe's test runs its Python snippet.
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
  command -v zbarimg >/dev/null 2>&1 || need+=(zbar-tools)
  command -v python3 >/dev/null 2>&1 || need+=(python3)
fi
if [ "${#need[@]}" -gt 0 ]; then
  echo "setup: installing ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

if [ "$example" = false ] &&
  { [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; }; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund
fi

bash scripts/start-docker.sh

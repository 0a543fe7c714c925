#!/usr/bin/env bash
# A Node.js base image for the top-level Dockerfile (`--build-arg NODE_IMAGE=…`) made from this machine,
# for hosts that cannot reach Docker Hub's node images: this machine's node binary, the shared libraries it
# and the ngrok addons in dist/ link against, and a static busybox as /bin/sh, imported with `docker import`.
#   bash scripts/node-base-image.sh [tag]     (default ml-preview-node-base:<node version>; prints the tag)
# Needs node >= 20 on glibc and busybox-static (scripts/setup.sh installs busybox-static).
set -euo pipefail
cd "$(dirname "$0")/.."

tag="${1:-ml-preview-node-base:$(node --version)}"
node="$(node -p process.execPath)"
busybox="$(command -v busybox || true)"
if [ -z "$busybox" ] || ldd "$busybox" >/dev/null 2>&1; then
  echo "node-base-image: needs a statically linked busybox (apt-get install busybox-static)" >&2
  exit 1
fi

root="$(mktemp -d /tmp/ml-preview-node-base.XXXXXX)"
trap 'rm -rf "$root"' EXIT
put() { mkdir -p "$root$(dirname "$2")" && cp -L "$1" "$root$2"; }
put "$node" /usr/local/bin/node
# ldd also lists the other platform's addon as "not a dynamic executable": only this platform's count.
for lib in $({ ldd "$node" dist/*.node 2>/dev/null || true; } | grep -o '/[^ ]* (0x' | cut -d' ' -f1 | sort -u); do
  put "$lib" "$lib"
done
put "$busybox" /bin/busybox
ln -s /bin/busybox "$root/bin/sh"
mkdir -m 1777 "$root/tmp"
mkdir -p "$root/etc"
echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
tar -C "$root" -c . | docker import - "$tag" >/dev/null
echo "$tag"

#!/usr/bin/env bash
# The Node.js the GitHub runner runs the Action with (action.yml: runs.using node24), for the tests and the
# bench that run dist/ as the runner does; this machine's own node may be older (Debian's is 20). Taken from
# the npm registry's node-<os>-<arch> package (the same binaries as nodejs.org), kept in node_modules/.cache.
#   bash scripts/runner-node.sh        prints the path of its node binary (fetching it the first time)
set -euo pipefail
cd "$(dirname "$0")/.."

major=24
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  *) echo "runner-node: no node-linux package for $(uname -m)" >&2; exit 1 ;;
esac
dir="node_modules/.cache/runner-node/linux-$arch-$major"
if [ ! -x "$dir/bin/node" ]; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "node-linux-$arch@$major" >/dev/null)
  mkdir -p "$dir"
  tar -xzf "$tmp"/node-linux-*.tgz -C "$dir" --strip-components=1
fi
"$dir/bin/node" -e "if (process.versions.node.split('.')[0] !== '$major') process.exit(1)"
echo "$PWD/$dir/bin/node"

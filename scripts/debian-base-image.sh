#!/usr/bin/env bash
# Makes the base image of examples/debian-tips from the Debian mirror this machine's apt already uses, so
# the example builds where Docker Hub is out of reach: debootstrap --variant=minbase into a temp folder,
# then `docker import`. Tagged ml-preview-debian-base:<suite> and kept, so later runs reuse it at once.
# Prints the tag on stdout (progress on stderr). Debian/Ubuntu host, root or sudo; idempotent.
set -euo pipefail

suite="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
if [ -z "$suite" ]; then
  echo "debian-base-image: /etc/os-release names no VERSION_CODENAME: this needs a Debian or Ubuntu host." >&2
  exit 1
fi
tag="ml-preview-debian-base:$suite"
if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "$tag"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
if ! command -v debootstrap >/dev/null 2>&1; then
  echo "debian-base-image: installing debootstrap" >&2
  { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq debootstrap; } \
    >/tmp/ml-preview-debootstrap-install.log 2>&1 || {
    cat /tmp/ml-preview-debootstrap-install.log >&2
    exit 1
  }
fi

# The host's own sources for this suite (and its -updates/-security), whatever the file format or mirror.
sources="$(apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(COMPONENT)' 'Identifier: Packages' |
  awk -v s="$suite" '$2 == s || $2 == s "-updates" || $2 == s "-security" { print "deb " $0 }' | sort -u)"
mirror="$(awk -v s="$suite" '$3 == s { print $2; exit }' <<<"$sources")"
if [ -z "$mirror" ]; then
  echo "debian-base-image: apt has no source for suite $suite (see /etc/apt/sources.list*); add one and run apt-get update." >&2
  exit 1
fi

root="$(mktemp -d /tmp/ml-preview-debian-base.XXXXXX)"
trap '$SUDO rm -rf "$root"' EXIT
echo "debian-base-image: debootstrap --variant=minbase $suite from $mirror (about 40 MB, once)" >&2
$SUDO debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$root.log" 2>&1 || {
  tail -n 20 "$root.log" >&2
  echo "debian-base-image: debootstrap failed (full log: $root.log)" >&2
  exit 1
}
rm -f "$root.log"
echo "$sources" | $SUDO tee "$root/etc/apt/sources.list" >/dev/null
# Settings the host needs to use its mirror (a proxy, a snapshot's expired Release files) apply inside too.
apt-config dump | grep -E '^Acquire::(https?::Proxy|Check-Valid-Until|Check-Date) ' |
  $SUDO tee "$root/etc/apt/apt.conf.d/90host-mirror" >/dev/null || true
# As Debian's own images on Docker Hub do: no fsync per unpacked file (a build step's layer is written once,
# whole, or thrown away): apt-get install in the example's build took 3.7 instead of 5.5 min on a busy 2-core host.
echo force-unsafe-io | $SUDO tee "$root/etc/dpkg/dpkg.cfg.d/docker-apt-speedup" >/dev/null
$SUDO sh -c "rm -rf '$root'/var/cache/apt/archives/*.deb '$root'/var/lib/apt/lists/*"
$SUDO tar -C "$root" -c . | docker import --change 'CMD ["/bin/bash"]' \
  --message "debootstrap --variant=minbase $suite $mirror" - "$tag" >/dev/null
echo "$tag"

#!/usr/bin/env bash
# Installs everything the memory_coordinator lab needs, from Debian's apt archive only,
# and downloads the guest kernel package (not installed: build-guest.sh unpacks it).
#
# Usage: install-deps.sh [--no-update]
#   Idempotent: packages already installed are left alone, and the kernel .deb is kept
#   in $MEMCOORD_LAB_DIR/cache (default /var/lib/memcoord-lab/cache).
set -euo pipefail

lab_dir="${MEMCOORD_LAB_DIR:-/var/lib/memcoord-lab}"
cache_dir="${lab_dir}/cache"

die() { echo "install-deps: $*" >&2; exit 1; }

update=1
case "${1:-}" in
  --no-update) update=0 ;;
  -h|--help)
    sed -n '2,/^set -euo/{/^#/p}' "$0" | sed 's/^# \{0,1\}//'
    exit 0 ;;
  "") ;;
  *) die "unknown option '$1' (try --help)" ;;
esac

[[ $(id -u) -eq 0 ]] || die "must run as root (apt-get install)"

packages=(
  # libvirt daemon with the QEMU driver, and virsh
  libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients
  # the emulator (TCG) and its firmware
  qemu-system-x86
  # guest userspace and the tools to build the guest
  busybox-static gcc libc6-dev cpio gzip kmod
  # host side of the agent channel, process and user tools used by lab.sh
  socat procps passwd coreutils util-linux
)

export DEBIAN_FRONTEND=noninteractive
if [[ $update -eq 1 ]]; then
  apt-get update || die "apt-get update failed"
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "install-deps: installing ${missing[*]}"
  apt-get install -y --no-install-recommends "${missing[@]}" \
    || die "apt-get install failed for: ${missing[*]}"
else
  echo "install-deps: all ${#packages[@]} packages already installed"
fi

# The guest kernel: the exact image package that linux-image-amd64 depends on.
kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null \
  | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n1)
[[ -n $kpkg ]] || die "could not find the kernel package linux-image-amd64 depends on (apt-cache depends linux-image-amd64); run without --no-update"
kver=$(apt-cache show --no-all-versions "$kpkg" | sed -n 's/^Version: //p' | head -n1)
[[ -n $kver ]] || die "apt-cache knows no version of $kpkg"

mkdir -p "$cache_dir"
deb="${cache_dir}/${kpkg}_${kver//:/%3a}_amd64.deb"
if [[ -s $deb ]] && dpkg-deb --info "$deb" >/dev/null 2>&1; then
  echo "install-deps: guest kernel already downloaded: $deb"
else
  echo "install-deps: downloading $kpkg $kver"
  # apt-get download writes into the current directory; -o keeps apt quiet about
  # running unsandboxed as root.
  (cd "$cache_dir" && apt-get download -o APT::Sandbox::User=root "$kpkg=$kver") \
    || die "apt-get download $kpkg=$kver failed"
  [[ -s $deb ]] || die "expected $deb after apt-get download, found: $(ls "$cache_dir")"
fi
# build-guest.sh reads this to know which kernel to use.
printf '%s\n' "$deb" >"${cache_dir}/kernel-deb.path"
echo "install-deps: done (kernel package: $deb)"

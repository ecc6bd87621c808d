#!/usr/bin/env bash
# Builds the lab guest from Debian packages: the kernel unpacked from the
# linux-image-*-amd64 .deb that install-deps.sh downloaded, and a busybox initramfs with
# the virtio balloon and console modules, the command agent and a static memhog.
#
# Usage: build-guest.sh [OUTDIR]
#   OUTDIR defaults to $MEMCOORD_LAB_DIR/guest (MEMCOORD_LAB_DIR: /var/lib/memcoord-lab).
#   Writes OUTDIR/vmlinuz, OUTDIR/initrd.gz, OUTDIR/memhog, OUTDIR/kernel-release and
#   OUTDIR/stamp. Does nothing when the stamp matches the inputs (set FORCE=1 to rebuild).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
lab_dir="${MEMCOORD_LAB_DIR:-/var/lib/memcoord-lab}"
cache_dir="${lab_dir}/cache"

die() { echo "build-guest: $*" >&2; exit 1; }

case "${1:-}" in
  -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
[[ $# -le 1 ]] || die "too many arguments (usage: build-guest.sh [OUTDIR])"
out_dir="${1:-${lab_dir}/guest}"

# Load order: every module after the ones it depends on (checked below).
modules=(virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci
         virtio_balloon virtio_console)

for tool in dpkg-deb tar gcc cpio gzip modinfo sha256sum; do
  command -v "$tool" >/dev/null || die "'$tool' not found; run deploy/lab/install-deps.sh"
done
busybox=/bin/busybox
file_is_static() { ! LC_ALL=C ldd "$1" >/dev/null 2>&1; }
if ! [[ -x $busybox ]] || ! file_is_static "$busybox"; then
  die "$busybox is missing or not static; install busybox-static (deploy/lab/install-deps.sh)"
fi

deb=
if [[ -r ${cache_dir}/kernel-deb.path ]]; then
  deb=$(<"${cache_dir}/kernel-deb.path")
fi
if [[ -z $deb || ! -s $deb ]]; then
  deb=$(find "$cache_dir" -maxdepth 1 -name 'linux-image-*-amd64_*.deb' 2>/dev/null | sort -V | tail -n1)
fi
[[ -n $deb && -s $deb ]] \
  || die "no guest kernel package in $cache_dir; run deploy/lab/install-deps.sh first"

inputs=("$here/build-guest.sh" "$here/guest-init.sh" "$here/guest-agent.sh" "$here/memhog.c")
stamp=$( {
  echo "kernel $(basename "$deb") $(stat -c %s "$deb")"
  echo "busybox $(sha256sum <"$busybox")"
  echo "gcc $(gcc -dumpfullversion)"
  sha256sum "${inputs[@]}" | sed "s|  $here/|  |"
} | sha256sum | cut -d' ' -f1)

if [[ ${FORCE:-0} != 1 && -r $out_dir/stamp && $(<"$out_dir/stamp") == "$stamp" \
      && -s $out_dir/vmlinuz && -s $out_dir/initrd.gz ]]; then
  echo "build-guest: $out_dir is up to date"
  exit 0
fi

start=$SECONDS
mkdir -p "$out_dir"
work=$(mktemp -d "$out_dir/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "build-guest: unpacking kernel and virtio modules from $(basename "$deb")"
# Same unpacking as `dpkg -x`, restricted to the files the guest needs.
dpkg-deb --fsys-tarfile "$deb" \
  | tar -x -C "$work" --wildcards './boot/vmlinuz-*' \
      './lib/modules/*/kernel/drivers/virtio/*' \
      './lib/modules/*/kernel/drivers/char/virtio_console.ko' \
  || die "unpacking $deb failed"
vmlinuz=$(find "$work/boot" -name 'vmlinuz-*' | head -n1)
[[ -n $vmlinuz ]] || die "no vmlinuz in $deb"
release=${vmlinuz##*/vmlinuz-}
moddir="$work/lib/modules/$release/kernel"

root="$work/root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,run,tmp,lib/modules}

loaded=()
for m in "${modules[@]}"; do
  ko=$(find "$moddir" -name "$m.ko" | head -n1)
  [[ -n $ko ]] || die "module $m.ko not found in $deb (compressed modules are not handled)"
  deps=$(modinfo -F depends "$ko")
  for d in ${deps//,/ }; do
    d=${d//-/_}
    [[ " ${loaded[*]} " == *" $d "* ]] \
      || die "module order: $m depends on $d, which is not loaded before it"
  done
  cp "$ko" "$root/lib/modules/$m.ko"
  loaded+=("$m")
done
printf '%s\n' "${modules[@]}" >"$root/etc/lab-modules"

echo "build-guest: compiling memhog (static)"
gcc -static -O2 -Wall -Wextra -o "$work/memhog" "$here/memhog.c" || die "gcc -static memhog.c failed"

cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list-full); do
  [[ -e $root/$applet ]] || ln -s /bin/busybox "$root/$applet"
done
install -m 0755 "$here/guest-init.sh" "$root/init"
install -m 0755 "$here/guest-agent.sh" "$root/bin/lab-agent"
install -m 0755 "$work/memhog" "$root/bin/memhog"
mknod -m 0600 "$root/dev/console" c 5 1
mknod -m 0666 "$root/dev/null" c 1 3

echo "build-guest: packing initramfs"
(cd "$root" && find . -print0 | LC_ALL=C sort -z \
   | cpio --null --create --format=newc --reproducible --owner=0:0 --quiet) \
  | gzip -6n >"$work/initrd.gz" || die "packing the initramfs failed"

install -m 0644 "$vmlinuz" "$out_dir/vmlinuz"
install -m 0644 "$work/initrd.gz" "$out_dir/initrd.gz"
install -m 0755 "$work/memhog" "$out_dir/memhog"
echo "$release" >"$out_dir/kernel-release"
echo "$stamp" >"$out_dir/stamp"
echo "build-guest: built guest (kernel $release, initramfs $(du -k "$out_dir/initrd.gz" | cut -f1) KiB) in $out_dir in $((SECONDS - start)) s"

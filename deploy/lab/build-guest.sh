#!/usr/bin/env bash
# Builds the lab guest from Debian packages: the kernel unpacked from the
# linux-image-*-amd64 .deb that install-deps.sh downloaded, and a busybox initramfs with
# the virtio balloon and console modules, the command agent (lab-agent.c) and memhog
# (memhog.c), both static.
#
# Usage: build-guest.sh [OUTDIR]
#   OUTDIR defaults to $MEMCOORD_LAB_DIR/guest (MEMCOORD_LAB_DIR: /var/lib/memcoord-lab).
#   Writes OUTDIR/kernel (the image to boot), OUTDIR/vmlinuz (Debian's bzImage),
#   OUTDIR/initrd.gz, OUTDIR/memhog, OUTDIR/kernel-release, OUTDIR/kernel-format and
#   OUTDIR/stamp. Does nothing when the stamp matches the inputs (set FORCE=1 to rebuild).
#
#   OUTDIR/kernel is the uncompressed ELF kernel taken out of the bzImage when it has a
#   PVH entry point: QEMU then loads it directly, which saves the emulated XZ
#   decompression (many seconds under TCG). Otherwise it is the bzImage itself.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
lab_dir="${MEMCOORD_LAB_DIR:-/var/lib/memcoord-lab}"
cache_dir="${lab_dir}/cache"

die() { echo "build-guest: $*" >&2; exit 1; }

case "${1:-}" in
  -h|--help) sed -n '2,/^set -euo/{/^#/p}' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
[[ $# -le 1 ]] || die "too many arguments (usage: build-guest.sh [OUTDIR])"
out_dir="${1:-${lab_dir}/guest}"

# Load order: every module after the ones it depends on (checked below).
modules=(virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci
         virtio_balloon virtio_console)

for tool in dpkg-deb tar gcc cpio gzip xz modinfo readelf sha256sum od; do
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

inputs=("$here/build-guest.sh" "$here/guest-init.sh" "$here/lab-agent.c" "$here/memhog.c")
stamp=$( {
  echo "kernel $(basename "$deb") $(stat -c %s "$deb")"
  echo "busybox $(sha256sum <"$busybox")"
  echo "gcc $(gcc -dumpfullversion)"
  sha256sum "${inputs[@]}" | sed "s|  $here/|  |"
} | sha256sum | cut -d' ' -f1)

if [[ ${FORCE:-0} != 1 && -r $out_dir/stamp && $(<"$out_dir/stamp") == "$stamp" \
      && -s $out_dir/kernel && -s $out_dir/initrd.gz ]]; then
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

# The bzImage's payload: setup sectors (byte 0x1f1, 0 meaning 4) plus one boot sector,
# then payload_offset (0x248) and payload_length (0x24c) from the setup header.
extract_elf() { # extract_elf BZIMAGE OUT -> 0 if OUT is an ELF kernel with a PVH entry
  local bz=$1 out=$2 sects off len start magic
  sects=$(od -An -tu1 -j $((0x1f1)) -N1 "$bz" | tr -d ' ')
  [[ $sects -ne 0 ]] || sects=4
  read -r off len < <(od -An -tu4 -j $((0x248)) -N8 "$bz")
  start=$(((sects + 1) * 512 + off))
  magic=$(od -An -tx1 -j "$start" -N4 "$bz" | tr -d ' ')
  case $magic in
    fd377a58) tail -c +$((start + 1)) "$bz" | head -c "$len" | xz -dc --single-stream >"$out" 2>/dev/null ;;
    1f8b*) tail -c +$((start + 1)) "$bz" | head -c "$len" | gzip -dc >"$out" 2>/dev/null ;;
    *) echo "build-guest: kernel payload compression $magic not handled; booting the bzImage"; return 1 ;;
  esac
  [[ $(od -An -tx1 -N4 "$out" | tr -d ' ') == 7f454c46 ]] || { echo "build-guest: kernel payload is not ELF; booting the bzImage"; return 1; }
  # XEN_ELFNOTE_PHYS32_ENTRY (18) marks the PVH entry point QEMU boots through.
  if ! LC_ALL=C readelf -n "$out" | grep -Eq 'Xen[[:space:]]+0x[0-9a-f]+[[:space:]]+(Unknown note type: \(0x00000012\)|XEN_ELFNOTE_PHYS32_ENTRY)'; then
    echo "build-guest: kernel has no PVH entry point; booting the bzImage"
    return 1
  fi
}
kernel_format=bzimage
if extract_elf "$vmlinuz" "$work/vmlinux"; then
  kernel_format=pvh-elf
fi

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

echo "build-guest: compiling memhog and lab-agent (static)"
for prog in memhog lab-agent; do
  gcc -static -O2 -Wall -Wextra -o "$work/$prog" "$here/$prog.c" || die "gcc -static $prog.c failed"
done

cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list-full); do
  [[ -e $root/$applet ]] || ln -s /bin/busybox "$root/$applet"
done
install -m 0755 "$here/guest-init.sh" "$root/init"
install -m 0755 "$work/lab-agent" "$root/bin/lab-agent"
install -m 0755 "$work/memhog" "$root/bin/memhog"
mknod -m 0600 "$root/dev/console" c 5 1
mknod -m 0666 "$root/dev/null" c 1 3

echo "build-guest: packing initramfs"
(cd "$root" && find . -print0 | LC_ALL=C sort -z \
   | cpio --null --create --format=newc --reproducible --owner=0:0 --quiet) \
  | gzip -6n >"$work/initrd.gz" || die "packing the initramfs failed"

install -m 0644 "$vmlinuz" "$out_dir/vmlinuz"
if [[ $kernel_format == pvh-elf ]]; then
  install -m 0644 "$work/vmlinux" "$out_dir/kernel"
else
  install -m 0644 "$vmlinuz" "$out_dir/kernel"
fi
echo "$kernel_format" >"$out_dir/kernel-format"
install -m 0644 "$work/initrd.gz" "$out_dir/initrd.gz"
install -m 0755 "$work/memhog" "$out_dir/memhog"
echo "$release" >"$out_dir/kernel-release"
echo "$stamp" >"$out_dir/stamp"
echo "build-guest: built guest (kernel $release as $kernel_format, initramfs $(du -k "$out_dir/initrd.gz" | cut -f1) KiB) in $out_dir in $((SECONDS - start)) s"

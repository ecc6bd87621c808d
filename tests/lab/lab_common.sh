# shellcheck shell=bash
# lab_common.sh: what the lab benchmark scripts share. Sourced, not run.
# The sourcing script defines die() first.

# require_root: the lab runs libvirtd and QEMU.
require_root() {
  [[ $(id -u) -eq 0 ]] || die "must run as root (the lab runs libvirtd and QEMU)"
}

# find_bin [PATH]: prints the memory_coordinator to run, as an absolute path:
# PATH if given, else ./memory_coordinator or build/memory_coordinator.
find_bin() {
  local bin=${1:-} b
  if [[ -z $bin ]]; then
    for b in ./memory_coordinator build/memory_coordinator; do
      [[ -x $b ]] && { bin=$b; break; }
    done
  fi
  [[ -n $bin && -x $bin ]] || die "memory_coordinator not found; give --bin"
  echo "$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
}

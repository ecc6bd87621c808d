#!/bin/bash
# Installation and the Debian package, from a build directory:
#   1. `cmake --install` into a scratch DESTDIR (default prefix and --prefix
#      /usr): the unit's ExecStart names the installed binary; a second install
#      keeps an edited /etc configuration.
#   2. `cpack -G DEB`: name, Depends, conffiles, maintainer scripts, file list.
#   3. `dpkg-deb -x` into a scratch root: the extracted binary runs --version
#      and accepts the packaged configuration (--check-config); the extracted
#      unit passes systemd-analyze verify.
#   4. A real `dpkg -i` on this machine (root only; skipped when
#      /usr/sbin/memory_coordinator exists and belongs to no package, so that
#      a hand-installed copy is never overwritten): memory_coordinator
#      --version from PATH, then `dpkg -r` keeps the conffile and `dpkg -P`
#      removes it. The package is purged on any exit.
#
# Usage: package_test.sh BUILD_DIR SOURCE_DIR
# Exit status: 0 pass, 1 fail.
set -u
build=$(cd "$1" && pwd)
source_dir=$(cd "$2" && pwd)
example="$source_dir/deploy/config/memory_coordinator.yaml"
version=$(sed -n 's/^set(CPACK_PACKAGE_VERSION "\(.*\)")$/\1/p' "$build/CPackConfig.cmake")
scratch=$(mktemp -d /tmp/memcoord-package-test.XXXXXX)
installed_by_us=0
cleanup() {
  if [ "$installed_by_us" = 1 ]; then
    dpkg -P memory-coordinator >/dev/null 2>&1 || true
  fi
  rm -rf "$scratch"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

failures=0
ok() { echo "ok   $*"; }
fail() { echo "FAIL $*"; failures=$((failures + 1)); }
check() {  # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@"; then ok "$what"; else fail "$what"; fi
}
config_ok() {  # config_ok BINARY [ARGS]: --check-config passes (output hidden)
  local bin=$1; shift
  "$bin" --check-config "$@" >/dev/null 2>&1
}
runs_version() {  # runs_version BINARY: prints "memory_coordinator VERSION"?
  local out
  out=$("$1" --version 2>&1) || { echo "  $1 --version failed: $out"; return 1; }
  case "$out" in
    *"$version"*) return 0 ;;
    *) echo "  $1 --version printed '$out', expected version $version"; return 1 ;;
  esac
}

[ -n "$version" ] || { echo "FAIL no CPACK_PACKAGE_VERSION in $build/CPackConfig.cmake"; exit 1; }
echo "package version $version"

# --- 1. cmake --install -------------------------------------------------------
for prefix in /usr/local /usr; do
  dest="$scratch/install${prefix//\//-}"
  if ! DESTDIR="$dest" cmake --install "$build" --prefix "$prefix" >"$scratch/install.log" 2>&1; then
    fail "cmake --install --prefix $prefix"; cat "$scratch/install.log"; continue
  fi
  unit="$dest$prefix/lib/systemd/system/memory-coordinator.service"
  conf="$dest/etc/memory_coordinator/memory_coordinator.yaml"
  check "install $prefix: $prefix/sbin/memory_coordinator runs --version" \
    runs_version "$dest$prefix/sbin/memory_coordinator"
  check "install $prefix: the unit runs $prefix/sbin/memory_coordinator" \
    grep -qx "ExecStart=$prefix/sbin/memory_coordinator --config /etc/memory_coordinator/memory_coordinator.yaml" "$unit"
  check "install $prefix: example configuration in /etc/memory_coordinator" cmp -s "$example" "$conf"
  check "install $prefix: dashboard in $prefix/share/memory_coordinator/grafana" \
    cmp -s "$source_dir/grafana/memory_coordinator.json" "$dest$prefix/share/memory_coordinator/grafana/memory_coordinator.json"
  check "install $prefix: alert rules in $prefix/share/memory_coordinator/prometheus" \
    cmp -s "$source_dir/deploy/prometheus/memory_coordinator.rules.yml" "$dest$prefix/share/memory_coordinator/prometheus/memory_coordinator.rules.yml"
  check "install $prefix: README.md in $prefix/share/doc/memory-coordinator" \
    cmp -s "$source_dir/README.md" "$dest$prefix/share/doc/memory-coordinator/README.md"
  echo "interval_s: 5" >"$conf"
  DESTDIR="$dest" cmake --install "$build" --prefix "$prefix" >"$scratch/install.log" 2>&1
  check "install $prefix: a second install keeps an edited configuration" \
    grep -qx "interval_s: 5" "$conf"
done

# --- 2. cpack -G DEB ----------------------------------------------------------
if ! (cd "$build" && cpack -G DEB -B "$scratch/cpack") >"$scratch/cpack.log" 2>&1; then
  fail "cpack -G DEB"; cat "$scratch/cpack.log"; exit 1
fi
deb=$(ls "$scratch"/cpack/memory-coordinator_"$version"_*.deb 2>/dev/null | head -n1)
if [ -z "$deb" ]; then
  fail "cpack made no memory-coordinator_${version}_ARCH.deb"; ls -R "$scratch/cpack"; exit 1
fi
ok "cpack -G DEB made $(basename "$deb")"
field() { dpkg-deb -f "$deb" "$1"; }
check "package name memory-coordinator" test "$(field Package)" = memory-coordinator
check "package version $version" test "$(field Version)" = "$version"
depends=$(field Depends)
for dep in libvirt0 libprometheus-cpp-core1.0 libyaml-cpp0.7 libspdlog1.10 libcivetweb1; do
  check "Depends names $dep" grep -q "$dep" <<<"$depends"
done
dpkg-deb -e "$deb" "$scratch/control"
check "conffiles lists the configuration" \
  grep -qx /etc/memory_coordinator/memory_coordinator.yaml "$scratch/control/conffiles"
for script in postinst prerm postrm; do
  check "$script is an executable shell script" sh -n "$scratch/control/$script"
done
dpkg-deb -c "$deb" | awk '{print $6}' >"$scratch/files"
for f in ./usr/sbin/memory_coordinator \
         ./usr/lib/systemd/system/memory-coordinator.service \
         ./etc/memory_coordinator/memory_coordinator.yaml \
         ./usr/share/memory_coordinator/grafana/memory_coordinator.json \
         ./usr/share/memory_coordinator/grafana/provisioning/datasources/memory_coordinator.yaml \
         ./usr/share/memory_coordinator/grafana/provisioning/dashboards/memory_coordinator.yaml \
         ./usr/share/memory_coordinator/prometheus/memory_coordinator.rules.yml \
         ./usr/share/memory_coordinator/prometheus/prometheus.yml \
         ./usr/share/doc/memory-coordinator/README.md \
         ./usr/share/doc/memory-coordinator/docs/dashboard.png; do
  check "package holds $f" grep -qx "$f" "$scratch/files"
done
if grep -v -e '^\./etc/' -e '^\./usr/' "$scratch/files" | grep -q .; then
  fail "package holds files outside /etc and /usr: $(grep -v -e '^\./etc/' -e '^\./usr/' "$scratch/files" | tr '\n' ' ')"
fi

# --- 3. dpkg-deb -x into a scratch root ---------------------------------------
root="$scratch/root"
dpkg-deb -x "$deb" "$root"
check "extracted binary runs --version" runs_version "$root/usr/sbin/memory_coordinator"
if "$root/usr/sbin/memory_coordinator" --check-config \
     --config "$root/etc/memory_coordinator/memory_coordinator.yaml" >"$scratch/check.log" 2>&1; then
  ok "extracted binary accepts the packaged configuration"
else
  fail "extracted binary refuses the packaged configuration"; cat "$scratch/check.log"
fi
if command -v systemd-analyze >/dev/null; then
  # verify needs the binary at the ExecStart path: point it into the root.
  mkdir -p "$scratch/unit"
  sed "s#^ExecStart=/usr/sbin/#ExecStart=$root/usr/sbin/#" \
    "$root/usr/lib/systemd/system/memory-coordinator.service" \
    >"$scratch/unit/memory-coordinator.service"
  out=$(cd "$scratch/unit" && systemd-analyze verify memory-coordinator.service 2>&1)
  if [ $? -eq 0 ] && [ -z "$out" ]; then
    ok "systemd-analyze verify accepts the packaged unit"
  else
    fail "systemd-analyze verify of the packaged unit: $out"
  fi
fi

# --- 4. dpkg -i / dpkg -r on this machine ---------------------------------------
if [ "$(id -u)" != 0 ]; then
  echo "skip dpkg -i: not root"
elif dpkg-query -W -f='${Status}' memory-coordinator 2>/dev/null | grep -q installed; then
  fail "memory-coordinator is already installed here; remove it before this test"
elif [ -e /usr/sbin/memory_coordinator ]; then
  echo "skip dpkg -i: /usr/sbin/memory_coordinator exists and belongs to no package"
else
  installed_by_us=1
  if dpkg -i "$deb" >"$scratch/dpkg.log" 2>&1; then
    ok "dpkg -i $(basename "$deb")"
    check "dpkg reports memory-coordinator installed" \
      test "$(dpkg-query -W -f='${Status}' memory-coordinator)" = "install ok installed"
    check "memory_coordinator --version from PATH" \
      runs_version "$(PATH=/usr/sbin:/usr/bin:/sbin:/bin command -v memory_coordinator)"
    check "the installed configuration is valid" config_ok /usr/sbin/memory_coordinator
    dpkg -r memory-coordinator >"$scratch/dpkg.log" 2>&1
    check "dpkg -r removes the binary" test ! -e /usr/sbin/memory_coordinator
    check "dpkg -r removes the unit" test ! -e /usr/lib/systemd/system/memory-coordinator.service
    check "dpkg -r keeps the configuration (conffile)" test -f /etc/memory_coordinator/memory_coordinator.yaml
    dpkg -P memory-coordinator >"$scratch/dpkg.log" 2>&1
    check "dpkg -P removes the configuration" test ! -e /etc/memory_coordinator
    installed_by_us=0
  else
    fail "dpkg -i"; cat "$scratch/dpkg.log"
  fi
fi

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo PASS

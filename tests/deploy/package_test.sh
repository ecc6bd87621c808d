#!/bin/bash
# Installation and the Debian package, from a build directory:
#   1. `cmake --install` into a scratch DESTDIR (default prefix and --prefix
#      /usr): the unit's ExecStart names the installed binary; a second install
#      keeps an edited /etc configuration.
#   2. `cpack -G DEB`: name, Depends, conffiles, maintainer scripts, file list.
#   3. `dpkg-deb -x` into a scratch root: the extracted binary runs --version
#      and accepts the packaged configuration (--check-config); the extracted
#      unit passes systemd-analyze verify.
#   2b. `lintian` on the package reports no error (its warnings are printed).
#   4. A real `dpkg -i` on this machine (root only; skipped when
#      /usr/sbin/memory_coordinator exists and belongs to no package, so that
#      a hand-installed copy is never overwritten): memory_coordinator
#      --version from PATH; the system user the unit's User= names exists
#      and is in the group libvirt when the host has it; the unit is enabled
#      on the first install; the unit's User=, Group= and
#      SupplementaryGroups= applied with setpriv: the daemon runs as that
#      user against test:///default, its HTTP threads at nice 19, and reads
#      a TLS key and an auth file of mode 0640 root:GROUP but exits 2 on
#      0600 root:root ones; an administrator's disable survives an upgrade
#      (a second dpkg -i); `dpkg -r` keeps the conffile and the user,
#      `dpkg -P` removes the conffile and the enable state. The package is
#      purged on any exit, and the user removed if this test created it.
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
user_by_us=""
shared=""
cleanup() {
  if [ "$installed_by_us" = 1 ]; then
    dpkg -P memory-coordinator >/dev/null 2>&1 || true
  fi
  if [ -n "$user_by_us" ] && getent passwd "$user_by_us" >/dev/null; then
    deluser --system --quiet "$user_by_us" >/dev/null 2>&1 || true
  fi
  rm -rf "$scratch" ${shared:+"$shared"}
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
quiet() { "$@" >/dev/null 2>&1; }
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
check "Depends names adduser (postinst creates the user)" grep -qE '(^|, )adduser(,|$| )' <<<"$depends"
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
         ./usr/share/man/man8/memory_coordinator.8.gz \
         ./usr/share/doc/memory-coordinator/changelog.gz \
         ./usr/share/doc/memory-coordinator/copyright \
         ./usr/share/doc/memory-coordinator/README.md \
         ./usr/share/doc/memory-coordinator/docs/dashboard.png; do
  check "package holds $f" grep -qx "$f" "$scratch/files"
done
if grep -v -e '^\./etc/' -e '^\./usr/' "$scratch/files" | grep -q .; then
  fail "package holds files outside /etc and /usr: $(grep -v -e '^\./etc/' -e '^\./usr/' "$scratch/files" | tr '\n' ' ')"
fi

# --- 2b. lintian -------------------------------------------------------------
if command -v lintian >/dev/null; then
  lintian --no-cfg "$deb" >"$scratch/lintian.log" 2>&1
  grep -v '^running with root privileges' "$scratch/lintian.log" | sed 's/^/  lintian: /'
  if grep -q '^E: ' "$scratch/lintian.log"; then
    fail "lintian reports errors"
  else
    ok "lintian reports no error"
  fi
else
  fail "lintian not found (Debian package lintian; deploy/install-deps.sh installs it)"
fi

# --- 3. dpkg-deb -x into a scratch root ---------------------------------------
root="$scratch/root"
dpkg-deb -x "$deb" "$root"
doc="$root/usr/share/doc/memory-coordinator"
if command -v dpkg-parsechangelog >/dev/null; then
  gunzip -c "$doc/changelog.gz" >"$scratch/changelog"
  check "the changelog's first entry is version $version" \
    test "$(dpkg-parsechangelog -l "$scratch/changelog" -S Version)" = "$version"
fi
for renamed in memcoord_ticks_total memcoord_tick_duration_seconds \
               memcoord_last_tick_timestamp_seconds memcoord_domain_memtotal_bytes; do
  check "the changelog names the renamed metric $renamed" \
    grep -q "$renamed" <(gunzip -c "$doc/changelog.gz")
done
check "copyright is machine-readable (DEP-5 Format:)" \
  grep -qx 'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/' "$doc/copyright"
check "the manual page is memory_coordinator(8)" \
  grep -q '^\.TH MEMORY_COORDINATOR "8"' <(gunzip -c "$root/usr/share/man/man8/memory_coordinator.8.gz")
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
  # --man=no: the manual page Documentation= names is not installed yet.
  out=$(cd "$scratch/unit" && systemd-analyze verify --man=no memory-coordinator.service 2>&1)
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
  unit=/usr/lib/systemd/system/memory-coordinator.service
  wants=/etc/systemd/system/multi-user.target.wants/memory-coordinator.service
  unit_key() { sed -n "s/^$1=//p" "$unit" | tail -n1; }
  installed_by_us=1
  getent passwd memory-coordinator >/dev/null || user_by_us=memory-coordinator
  if dpkg -i "$deb" >"$scratch/dpkg.log" 2>&1; then
    ok "dpkg -i $(basename "$deb")"
    check "dpkg reports memory-coordinator installed" \
      test "$(dpkg-query -W -f='${Status}' memory-coordinator)" = "install ok installed"
    check "memory_coordinator --version from PATH" \
      runs_version "$(PATH=/usr/sbin:/usr/bin:/sbin:/bin command -v memory_coordinator)"
    check "the installed configuration is valid" config_ok /usr/sbin/memory_coordinator
    check "the manual page is installed" test -f /usr/share/man/man8/memory_coordinator.8.gz

    # The user and groups the unit names, as systemd would apply them.
    user=$(unit_key User)
    group=$(unit_key Group)
    supplementary=$(unit_key SupplementaryGroups)
    check "the unit runs as a user other than root ($user)" test -n "$user" -a "$user" != root
    entry=$(getent passwd "$user")
    check "postinst created the system user $user" test -n "$entry"
    uid=$(cut -d: -f3 <<<"$entry")
    check "$user is a system user (uid $uid below 1000)" test "${uid:-1000}" -lt 1000
    check "$user has no login shell" grep -qE ':(/usr/sbin/nologin|/bin/false)$' <<<"$entry"
    check "the group $group exists" quiet getent group "$group"
    groups_arg=--clear-groups
    if getent group "$supplementary" >/dev/null; then
      check "$user is in the group $supplementary" \
        grep -qx "$supplementary" <(id -nG "$user" | tr ' ' '\n')
      groups_arg=--groups=$supplementary
    else
      echo "note no group $supplementary here (no libvirt-daemon-system): the unit's" \
           "SupplementaryGroups=$supplementary cannot be applied; postinst said:" \
           "$(grep -o 'no group libvirt.*' "$scratch/dpkg.log")"
      check "postinst says the group $supplementary is missing" \
        grep -q "no group libvirt on this host" "$scratch/dpkg.log"
    fi
    as_user=(setpriv --reuid="$user" --regid="$group" "$groups_arg" --inh-caps=-all
             --bounding-set=-all --no-new-privs)
    as_user() { "${as_user[@]}" "$@"; }
    check "the first install enables the unit ($wants)" test -L "$wants"

    check "$user reads the installed configuration" \
      quiet as_user /usr/sbin/memory_coordinator --check-config \
        --config /etc/memory_coordinator/memory_coordinator.yaml
    # The daemon as the user, against libvirt's test driver.
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "${as_user[@]}" /usr/sbin/memory_coordinator --connect test:///default \
      --listen "127.0.0.1:$port" --interval 0.5 >"$scratch/user-run.log" 2>&1 &
    daemon=$!
    served=0
    for _ in $(seq 100); do
      if curl -sf "http://127.0.0.1:$port/metrics" >"$scratch/user-metrics" 2>/dev/null; then
        served=1; break
      fi
      sleep 0.1
    done
    check "the daemon as $user serves /metrics" test "$served" = 1
    # The test driver has no host memory statistics: the daemon connects,
    # and every sample fails.
    check "the daemon as $user connects to test:///default" \
      grep -q 'libvirt: connected to test:///default' "$scratch/user-run.log"
    check "the daemon runs as $user (uid $uid)" test "$(ps -o uid= -p "$daemon" | tr -d ' ')" = "$uid"
    nices=$(for t in /proc/"$daemon"/task/*; do awk '{print $19}' "$t/stat"; done | sort -u | tr '\n' ' ')
    check "the daemon as $user lowers its HTTP threads to nice 19 (thread nice values: $nices)" \
      grep -qw 19 <<<"$nices"
    kill -TERM "$daemon"; wait "$daemon"; rc=$?
    check "the daemon as $user stops on SIGTERM with exit 0 (exit $rc)" test "$rc" -eq 0

    # Files web: names, as the user reads them. The directory is world-
    # searchable so that only the files' own modes decide.
    shared=$(mktemp -d /tmp/memcoord-package-user.XXXXXX)
    chmod 755 "$shared"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
      -keyout "$shared/key.pem" -out "$shared/cert.pem" >/dev/null 2>&1
    chmod 644 "$shared/cert.pem"
    printf 'prometheus:sha256:%s\n' "$(printf secret | sha256sum | cut -d' ' -f1)" >"$shared/users"
    printf 'web:\n  tls_cert_file: %s/cert.pem\n  tls_key_file: %s/key.pem\n' "$shared" "$shared" >"$shared/tls.yaml"
    printf 'web:\n  basic_auth_file: %s/users\n' "$shared" >"$shared/auth.yaml"
    chmod 644 "$shared/tls.yaml" "$shared/auth.yaml"
    for f in key.pem users; do
      conf=$([ "$f" = key.pem ] && echo tls.yaml || echo auth.yaml)
      chown "root:$group" "$shared/$f"; chmod 640 "$shared/$f"
      as_user /usr/sbin/memory_coordinator --check-config --config "$shared/$conf" >"$scratch/mode.log" 2>&1
      rc=$?
      check "$user reads $f of mode 0640 root:$group (exit $rc)" test "$rc" -eq 0
      [ "$rc" -eq 0 ] || cat "$scratch/mode.log"
      chown root:root "$shared/$f"; chmod 600 "$shared/$f"
      as_user /usr/sbin/memory_coordinator --check-config --config "$shared/$conf" >"$scratch/mode.log" 2>&1
      rc=$?
      check "$f of mode 0600 root:root: exit 2, no restart (exit $rc: $(head -n1 "$scratch/mode.log"))" \
        test "$rc" -eq 2
    done

    # An administrator's disable survives an upgrade, and so does an enable.
    systemctl disable memory-coordinator.service >/dev/null 2>&1
    check "systemctl disable removes $wants" test ! -e "$wants" -a ! -L "$wants"
    dpkg -i "$deb" >"$scratch/dpkg.log" 2>&1
    check "an upgrade keeps the unit disabled" test ! -e "$wants" -a ! -L "$wants"
    systemctl enable memory-coordinator.service >/dev/null 2>&1
    dpkg -i "$deb" >"$scratch/dpkg.log" 2>&1
    check "an upgrade keeps the unit enabled" test -L "$wants"

    dpkg -r memory-coordinator >"$scratch/dpkg.log" 2>&1
    check "dpkg -r removes the binary" test ! -e /usr/sbin/memory_coordinator
    check "dpkg -r removes the unit" test ! -e "$unit"
    check "dpkg -r keeps the configuration (conffile)" test -f /etc/memory_coordinator/memory_coordinator.yaml
    check "dpkg -r keeps the user $user" quiet getent passwd "$user"
    dpkg -P memory-coordinator >"$scratch/dpkg.log" 2>&1
    check "dpkg -P removes the configuration" test ! -e /etc/memory_coordinator
    check "dpkg -P removes the enable symlink" test ! -e "$wants" -a ! -L "$wants"
    check "dpkg -P removes deb-systemd-helper's state" \
      test ! -e /var/lib/systemd/deb-systemd-helper-enabled/memory-coordinator.service
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

#!/bin/bash
# Syntax and hardening of deploy/systemd/memory-coordinator.service with
# systemd-analyze (works without systemd running as PID 1):
#   - `systemd-analyze verify` prints nothing (systemd only warns, with exit
#     status 0, about unknown keys and bad values, so any output fails);
#   - a copy with an unknown key and a bad value does print warnings (the
#     check can fail here);
#   - `systemd-analyze security --offline=yes` rates the exposure at most 2.5;
#   - the keys the deployment relies on are present (Type=notify, the user
#     memory-coordinator with the group libvirt);
#   - it is ordered after libvirtd and virtqemud (services and sockets) and
#     pulls in neither; WatchdogSec covers at least 5 default intervals;
#   - each exit status the binary gives for a bad configuration, TLS pair or
#     auth file, and systemd's 216 for a missing group, is in
#     RestartPreventExitStatus (no restart every 5 s);
#   - the SystemCallFilter lets through setpriority, which the daemon calls
#     to lower its HTTP threads' priority;
#   - the ExecStart command line is one the binary accepts (--check-config
#     with the example configuration).
#
# Usage: unit_file_test.sh UNIT_FILE BINARY EXAMPLE_CONFIG
# Exit status: 0 pass, 1 fail, 77 skipped (no systemd-analyze).
set -u
unit_src=$1
binary=$(realpath "$2")
example=$3
name=memory-coordinator.service

if ! command -v systemd-analyze >/dev/null; then
  echo "SKIP: systemd-analyze not found (Debian package systemd)"
  exit 77
fi
scratch=$(mktemp -d /tmp/memcoord-unit-test.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
failures=0
ok() { echo "ok   $*"; }
fail() { echo "FAIL $*"; failures=$((failures + 1)); }

# verify checks that ExecStart's binary exists: use the one just built.
mkdir -p "$scratch/good" "$scratch/bad"
sed "s#^ExecStart=/usr/sbin/memory_coordinator #ExecStart=$binary #" \
  "$unit_src" >"$scratch/good/$name"
if ! grep -q "^ExecStart=$binary " "$scratch/good/$name"; then
  fail "ExecStart does not start /usr/sbin/memory_coordinator"
fi

verify() {  # verify DIR: prints systemd-analyze's complaints, fails on any
  local out
  # --man=no: Documentation='s manual page is installed by the package only.
  out=$(cd "$1" && systemd-analyze verify --man=no "$1/$name" 2>&1)
  local rc=$?
  printf '%s' "$out"
  [ $rc -eq 0 ] && [ -z "$out" ]
}

if out=$(verify "$scratch/good"); then
  ok "systemd-analyze verify: no warning"
else
  fail "systemd-analyze verify: $out"
fi

sed '/^\[Service\]$/a ProtectHomes=yes\nRestart=sometimes' \
  "$scratch/good/$name" >"$scratch/bad/$name"
out=$(verify "$scratch/bad")
if echo "$out" | grep -q "Unknown key 'ProtectHomes'" &&
   echo "$out" | grep -q "sometimes"; then
  ok "systemd-analyze verify reports an unknown key and a bad value in a broken copy"
else
  fail "systemd-analyze verify does not report a broken copy: $out"
fi

out=$(cd "$scratch/good" && systemd-analyze security --offline=yes --threshold=25 \
        --no-pager "$scratch/good/$name" 2>&1)
rc=$?
level=$(echo "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
if [ $rc -eq 0 ] && [ -n "$level" ]; then
  ok "systemd-analyze security: exposure $level (at most 2.5)"
else
  fail "systemd-analyze security: exposure ${level:-unknown} (rc $rc), more than 2.5"
  echo "$out" | grep -E '^✗' | head -n 20
fi

# What the deployment relies on, key by key.
while IFS= read -r line; do
  if grep -qxF -- "$line" "$unit_src"; then ok "has $line"; else fail "missing $line"; fi
done <<'KEYS'
Type=notify
NotifyAccess=main
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
User=memory-coordinator
Group=memory-coordinator
SupplementaryGroups=libvirt
CapabilityBoundingSet=
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
WantedBy=multi-user.target
KEYS
# Ordered after either libvirt daemon, monolithic or modular, and their
# sockets; pulls in neither (a host with virtqemud must not get libvirtd).
after=" $(sed -n 's/^After=//p' "$unit_src" | tr '\n' ' ') "
for dep in libvirtd.service virtqemud.service libvirtd.socket virtqemud.socket; do
  case "$after" in
    *" $dep "*) ok "starts after $dep" ;;
    *) fail "After= does not name $dep" ;;
  esac
done
pulls=$(grep -E '^(Wants|Requires|Requisite|BindsTo|PartOf|Upholds)=' "$unit_src")
if grep -Eq 'libvirtd|virtqemud' <<<"$pulls"; then
  fail "the unit pulls in a libvirt daemon: $pulls"
else
  ok "the unit pulls in no libvirt daemon"
fi

# WatchdogSec= covers a few ticks at the default interval (2 s); the daemon
# sends WATCHDOG=1 after every tick (cli.sd_notify).
watchdog=$(sed -n 's/^WatchdogSec=\([0-9]*\)s$/\1/p' "$unit_src")
if [ -n "$watchdog" ] && [ "$watchdog" -ge 10 ]; then
  ok "WatchdogSec=${watchdog}s is at least 5 default intervals"
else
  fail "WatchdogSec is '${watchdog}', want seconds >= 10"
fi

# RestartPreventExitStatus= holds every status that a restart cannot mend,
# each produced here by the binary itself: a bad configuration, a missing
# TLS pair, a file that is no certificate, a missing auth file (all exit 2);
# 216 is systemd's own status for a group that does not exist
# (SupplementaryGroups=libvirt without libvirt-daemon-system).
prevent=" $(sed -n 's/^RestartPreventExitStatus=//p' "$unit_src") "
printf 'interval_s: -1\n' >"$scratch/bad.yaml"
printf 'web:\n  tls_cert_file: %s/none.pem\n  tls_key_file: %s/none.pem\n' "$scratch" "$scratch" >"$scratch/tls.yaml"
printf 'not a certificate\n' >"$scratch/garbage.pem"
printf 'web:\n  tls_cert_file: %s/garbage.pem\n  tls_key_file: %s/garbage.pem\n' "$scratch" "$scratch" >"$scratch/tls-bad.yaml"
printf 'web:\n  basic_auth_file: %s/none\n' "$scratch" >"$scratch/auth.yaml"
for conf in bad tls tls-bad auth; do
  "$binary" --config "$scratch/$conf.yaml" --connect test:///default \
    --listen 127.0.0.1:1 >/dev/null 2>&1
  rc=$?
  case "$prevent" in
    *" $rc "*) ok "a start with $conf.yaml exits $rc, in RestartPreventExitStatus" ;;
    *) fail "a start with $conf.yaml exits $rc, not in RestartPreventExitStatus=$prevent" ;;
  esac
done
case "$prevent" in
  *" 216 "*) ok "RestartPreventExitStatus has 216 (a missing group)" ;;
  *) fail "RestartPreventExitStatus=$prevent lacks 216 (a missing group)" ;;
esac
# The daemon writes nothing: no path is made writable, and none hidden that
# libvirt's socket or /proc/meminfo need.
for key in ReadWritePaths InaccessiblePaths ProcSubset; do
  if grep -q "^$key=" "$unit_src"; then fail "$key is set"; else ok "no $key"; fi
done

# The system calls the daemon makes on purpose must pass the unit's
# SystemCallFilter, evaluated as systemd does: the first allow list is the
# set, each later ~list takes its calls away, each later plain list adds
# them back; groups are expanded with systemd-analyze. setpriority lowers
# the HTTP threads' priority (nice +19).
filter_allows() {  # filter_allows SYSCALL
  python3 - "$unit_src" "$1" <<'PY'
import subprocess, sys
unit, wanted = sys.argv[1], sys.argv[2]
def expand(name, seen=None):
    seen = set() if seen is None else seen
    if not name.startswith("@"):
        return {name}
    if name in seen:
        return set()
    seen.add(name)
    out = subprocess.run(["systemd-analyze", "syscall-filter", name],
                         capture_output=True, text=True, check=True).stdout
    calls = set()
    for line in out.splitlines()[1:]:
        line = line.strip()
        if line and not line.startswith("#"):
            calls |= expand(line, seen)
    return calls
allowed = None
for line in open(unit):
    if not line.startswith("SystemCallFilter="):
        continue
    value = line.split("=", 1)[1].strip()
    deny = value.startswith("~")
    names = set()
    for item in value.lstrip("~").split():
        names |= expand(item)
    if allowed is None:
        if deny:
            sys.exit(0)  # a deny list only: everything else passes
        allowed = names
    elif deny:
        allowed -= names
    else:
        allowed |= names
sys.exit(0 if allowed is None or wanted in allowed else 1)
PY
}
if filter_allows setpriority; then
  ok "SystemCallFilter lets the daemon call setpriority"
else
  fail "SystemCallFilter blocks setpriority: the HTTP threads would never get nice +19"
fi
# The check can fail: a unit that denies @resources without adding the
# call back is refused.
grep -v '^SystemCallFilter=setpriority' "$unit_src" >"$scratch/no-setpriority.service"
if unit_src=$scratch/no-setpriority.service filter_allows setpriority; then
  fail "the filter check passed a unit that denies @resources"
else
  ok "the filter check refuses a unit that denies @resources"
fi

# ExecStart's arguments, with the example configuration in place of /etc.
args=$(sed -n 's#^ExecStart=/usr/sbin/memory_coordinator ##p' "$unit_src")
args=${args//\/etc\/memory_coordinator\/memory_coordinator.yaml/$example}
# shellcheck disable=SC2086  # word splitting as systemd does
if "$binary" $args --check-config >"$scratch/check.log" 2>&1; then
  ok "memory_coordinator $args --check-config"
else
  fail "memory_coordinator refuses the ExecStart arguments: $(cat "$scratch/check.log")"
fi

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo PASS

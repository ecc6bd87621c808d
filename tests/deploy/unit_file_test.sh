#!/bin/bash
# Syntax and hardening of deploy/systemd/memory-coordinator.service with
# systemd-analyze (works without systemd running as PID 1):
#   - `systemd-analyze verify` prints nothing (systemd only warns, with exit
#     status 0, about unknown keys and bad values, so any output fails);
#   - a copy with an unknown key and a bad value does print warnings (the
#     check can fail here);
#   - `systemd-analyze security --offline=yes` rates the exposure at most 2.5;
#   - the keys the deployment relies on are present;
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
  out=$(cd "$1" && systemd-analyze verify "$1/$name" 2>&1)
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
Wants=libvirtd.service
Type=exec
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartPreventExitStatus=2
User=root
CapabilityBoundingSet=
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
WantedBy=multi-user.target
KEYS
if grep -Eq '^After=.*\blibvirtd\.service\b' "$unit_src"; then
  ok "starts after libvirtd.service"
else
  fail "After= does not name libvirtd.service"
fi
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

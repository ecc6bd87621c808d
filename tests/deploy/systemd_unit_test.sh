#!/bin/bash
# The unit under a real systemd: systemd is booted as PID 1 of a private PID
# and mount namespace (unshare; /run is a private tmpfs, units come only from
# a scratch directory through SYSTEMD_UNIT_PATH, so nothing of the host is
# started), with deploy/systemd/memory-coordinator.service as it ships plus
# a drop-in that points ExecStart at the built binary with a configuration
# of a simulated host:
#   - without the group libvirt (no libvirt-daemon-system) the start fails
#     with status 216 and is not restarted (RestartPreventExitStatus);
#   - (when libvirt is missing, a drop-in clears SupplementaryGroups= for
#     the rest) `systemctl start` returns with the unit active and /metrics
#     already serving a tick (Type=notify, READY=1); StatusText= names the
#     guests; WatchdogUSec=30s; the main process runs as the unit's User=
#     and Group=, with no capability and no new privileges; its HTTP threads
#     run at nice 19;
#   - `systemctl reload` after a change of policy: active, and the next
#     tick's StatusText= names the new policy;
#   - a stopped (SIGSTOP) daemon is killed by the watchdog (a 2 s drop-in)
#     and restarted; `systemctl stop` ends it with Result=success.
# The user memory-coordinator is created for the test if missing, and
# removed again. systemd and everything it started are killed at the end,
# and the cgroups it made removed.
#
# Usage: systemd_unit_test.sh UNIT_FILE BINARY SCENARIO
# Exit status: 0 pass, 1 fail, 77 skipped (not root, systemd already running,
# or no unshare/nsenter).
set -u
unit_src=$(realpath "$1")
binary=$(realpath "$2")
scenario=$(realpath "$3")
name=memory-coordinator.service

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
[ -d /run/systemd/system ] && { echo "SKIP: systemd runs here; this test boots its own where it does not"; exit 77; }
for tool in unshare nsenter curl /lib/systemd/systemd; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not found"; exit 77; }
done

scratch=$(mktemp -d /tmp/memcoord-systemd-test.XXXXXX)
chmod 755 "$scratch"
failures=0
ok() { echo "ok   $*"; }
fail() { echo "FAIL $*"; failures=$((failures + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else fail "$what"; fi; }

user=$(sed -n 's/^User=//p' "$unit_src")
group=$(sed -n 's/^Group=//p' "$unit_src")
supplementary=$(sed -n 's/^SupplementaryGroups=//p' "$unit_src")
user_by_us=""
init=""
# The cgroups the booted systemd makes (init.scope, system.slice in each
# hierarchy) are removed at the end when they were not there before.
cgroups_before=$(ls -d /sys/fs/cgroup/*/init.scope /sys/fs/cgroup/*/system.slice 2>/dev/null)
cleanup() {
  if [ -n "$init" ]; then
    kill -9 "$init" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$init" 2>/dev/null || break; sleep 0.1; done
    sleep 0.5
    local d
    for d in /sys/fs/cgroup/*/init.scope /sys/fs/cgroup/*/system.slice; do
      [ -d "$d" ] || continue
      grep -qxF "$d" <<<"$cgroups_before" && continue
      find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
    done
  fi
  if [ -n "$user_by_us" ]; then userdel "$user_by_us" >/dev/null 2>&1; fi
  rm -rf "$scratch"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

if ! getent passwd "$user" >/dev/null; then
  useradd --system --user-group --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin "$user" || { echo "FAIL useradd $user"; exit 1; }
  user_by_us=$user
fi
uid=$(id -u "$user")
gid=$(getent group "$group" | cut -d: -f3)

units=$scratch/units
mkdir -p "$units/$name.d"
for t in sysinit basic shutdown network multi-user sockets paths timers; do
  printf '[Unit]\nDescription=%s\n' "$t" >"$units/$t.target"
done
cp "$unit_src" "$units/$name"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# The configuration, and copies of the binary and the scenario, live in the
# namespace's private /run: PrivateTmp= hides /tmp (where a checkout may be)
# from the service, and ProtectHome= hides /root and /home.
config=/run/memcoord-systemd-test.yaml
binary_in_ns=/run/memcoord-systemd-test-bin
scenario_in_ns=/run/memcoord-systemd-test-scenario.yaml
write_config() {  # write_config POLICY
  printf 'connect: "sim:%s"\ninterval_s: 0.5\npolicy: %s\nweb: {listen: "127.0.0.1:%s"}\n' \
    "$scenario_in_ns" "$1" "$port" | in_ns sh -c "cat >$config"
}
cat >"$units/$name.d/exec.conf" <<CONF
[Service]
ExecStart=
ExecStart=$binary_in_ns --config $config
CONF
cat >"$scratch/boot.sh" <<BOOT
#!/bin/bash
mount -t tmpfs tmpfs /run
mkdir -p /run/systemd
export SYSTEMD_UNIT_PATH=$units
export container=other
exec /lib/systemd/systemd --system --unit=multi-user.target --log-target=null
BOOT
chmod +x "$scratch/boot.sh"
# Its own session, stdin not a terminal: systemd as PID 1 takes a terminal on
# stdin for its console, which would stop every job of the caller's session
# (SIGTTOU) when the suite runs in the background of a shell.
setsid unshare --pid --fork --mount --mount-proc --propagation private \
  "$scratch/boot.sh" </dev/null >"$scratch/boot.log" 2>&1 &
launcher=$!
for _ in $(seq 100); do
  init=$(pgrep -P "$launcher" | head -n1)
  [ -n "$init" ] && break
  sleep 0.1
done
in_ns() { nsenter -t "$init" -m -p "$@"; }
sc() { in_ns systemctl "$@"; }
prop() { sc show -p "$1" --value "$name"; }
state=""
for _ in $(seq 200); do
  state=$(sc is-system-running 2>/dev/null)
  case "$state" in running|degraded) break ;; esac
  sleep 0.1
done
if [ -z "$init" ] || ! case "$state" in running|degraded) true ;; *) false ;; esac; then
  echo "FAIL systemd did not boot in a private namespace (state '${state}')"; cat "$scratch/boot.log"
  exit 1
fi
ok "systemd booted as PID 1 of a private namespace ($state)"
in_ns sh -c "cat >$binary_in_ns && chmod 755 $binary_in_ns" <"$binary"
in_ns sh -c "cat >$scenario_in_ns && chmod 644 $scenario_in_ns" <"$scenario"
write_config adaptive

if ! getent group "$supplementary" >/dev/null; then
  sc start "$name" >/dev/null 2>&1
  check "without the group $supplementary the start fails with status 216 ($(prop ExecMainStatus))" \
    test "$(prop ExecMainStatus)" = 216
  sleep 6  # past RestartSec=5s
  check "and is not restarted (NRestarts=$(prop NRestarts), $(prop ActiveState))" \
    test "$(prop NRestarts)" = 0 -a "$(prop ActiveState)" = failed
  sc reset-failed "$name"
  printf '[Service]\nSupplementaryGroups=\n' >"$units/$name.d/no-libvirt.conf"
  echo "note no group $supplementary here: SupplementaryGroups= cleared for the rest"
  sc daemon-reload
fi

if sc start "$name"; then ok "systemctl start returns 0"; else fail "systemctl start"; fi
check "active as soon as start returns ($(prop ActiveState))" test "$(prop ActiveState)" = active
ticks=$(curl -sf "http://127.0.0.1:$port/metrics" | awk '$1 == "memcoord_ticks_total" {print $2}')
check "/metrics serves a tick when start returns (ticks ${ticks:-none})" test -n "$ticks" -a "${ticks:-0}" != 0
check "Type=notify ($(prop Type))" test "$(prop Type)" = notify
check "StatusText names the guests ($(prop StatusText))" grep -q guests <<<"$(prop StatusText)"
check "WatchdogUSec=30s ($(prop WatchdogUSec))" test "$(prop WatchdogUSec)" = 30s
pid=$(prop MainPID)
status=$(in_ns cat "/proc/$pid/status")
check "runs as $user (uid $uid)" grep -qE "^Uid:\s+$uid\s+$uid\s+$uid\s+$uid$" <<<"$status"
check "with the group $group (gid $gid)" grep -qE "^Gid:\s+$gid\s" <<<"$status"
check "with no capability" grep -qE '^CapEff:\s+0+$' <<<"$status"
check "with no new privileges" grep -qE '^NoNewPrivs:\s+1$' <<<"$status"
nices=$(in_ns sh -c "for t in /proc/$pid/task/*; do cut -d' ' -f19 \$t/stat; done" | sort | uniq -c | tr -s ' \n' ' ')
check "its HTTP threads run at nice 19 (count nice:$nices)" grep -qE '[0-9]+ 19( |$)' <<<"$nices"

write_config seed
sc reload "$name"
text=""
for _ in $(seq 50); do
  text=$(prop StatusText)
  grep -q 'guests, policy seed' <<<"$text" && break
  sleep 0.1
done
check "systemctl reload: the next tick's StatusText has the new policy ($text)" \
  grep -q 'guests, policy seed' <<<"$text"
check "systemctl reload: active ($(prop ActiveState))" test "$(prop ActiveState)" = active

printf '[Service]\nWatchdogSec=2s\n' >"$units/$name.d/watchdog.conf"
sc daemon-reload
sc restart "$name"
pid=0
for _ in $(seq 100); do
  pid=$(prop MainPID)
  [[ $pid =~ ^[0-9]+$ && $pid -gt 1 ]] && [ "$(prop ActiveState)" = active ] && break
  pid=0
  sleep 0.1
done
# Never `kill -STOP 0`: that stops the caller's own process group.
check "restarted with the watchdog drop-in (MainPID $pid)" test "$pid" -gt 1
if [ "$pid" -gt 1 ]; then in_ns kill -STOP "$pid"; fi
result=""
for _ in $(seq 100); do
  result=$(prop Result)
  [ "$result" = watchdog ] && break
  sleep 0.1
done
check "a stopped daemon is killed by the watchdog (Result=$result)" test "$result" = watchdog
for _ in $(seq 100); do
  [ "$(prop NRestarts)" -ge 1 ] && [ "$(prop ActiveState)" = active ] && break
  sleep 0.1
done
check "and restarted (NRestarts=$(prop NRestarts), $(prop ActiveState))" \
  test "$(prop NRestarts)" -ge 1 -a "$(prop ActiveState)" = active

sc stop "$name"
check "systemctl stop: inactive, Result=success ($(prop ActiveState), $(prop Result))" \
  test "$(prop ActiveState)" = inactive -a "$(prop Result)" = success

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo PASS

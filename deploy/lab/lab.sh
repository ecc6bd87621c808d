#!/usr/bin/env bash
# lab.sh: a small, disposable libvirt/QEMU lab for memory_coordinator.
# Run `lab.sh --help` for the commands.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_DIR="${MEMCOORD_LAB_DIR:-/var/lib/memcoord-lab}"
URI="${MEMCOORD_LAB_URI:-qemu:///system}"
GUEST_BUILD_DIR="${LAB_DIR}/guest"
GUESTS_DIR="${LAB_DIR}/guests"
LAB_NS="urn:memcoord:lab"
AGENT_PORT_NAME="org.memcoord.lab.agent"
LIBVIRTD_PID=/run/libvirtd.pid
VIRTLOGD_PID=/run/virtlogd.pid
LIBVIRTD_LOG=/var/log/libvirt/libvirtd.log
QEMU_CONF=/etc/libvirt/qemu.conf
# ACPI stays on: without it the guest has no HPET or PM timer, cannot calibrate its TSC
# when the host is busy, and falls back to a jiffies clock that runs fast or slow.
# no_timer_check: a busy host can delay the emulated timer interrupt enough for the
# kernel's IO-APIC timer check to fail and panic. Skipping the crypto self-tests
# shortens the emulated boot. panic=-1 reboots at once, which destroys the guest.
GUEST_CMDLINE="console=ttyS0 no_timer_check cryptomgr.notests mitigations=off panic=-1"

usage() {
  cat <<EOF
Usage: lab.sh COMMAND [ARGS]

A disposable libvirt/QEMU lab: small TCG guests (Debian kernel, busybox initramfs) with
the virtio balloon (stats every second), a command agent on a virtio-serial port and a
static memhog. State lives in \$MEMCOORD_LAB_DIR (now: $LAB_DIR); the libvirt URI is
\$MEMCOORD_LAB_URI (now: $URI).

Commands:
  up N [--prefix P] [--max-mib M] [--start-mib S] [--vcpus V] [--accel tcg|kvm]
       [--timeout SECS] [--no-settle] [--no-wait] [--no-balloon-driver] [--no-autodeflate]
      Start libvirtd if none answers, build the guest if needed, start guests P-1..P-N
      (default prefix "lab", max 2048 MiB, start 1024 MiB, 1 vCPU, TCG) as transient
      domains, and wait (default 180 s) until each reports balloon stats and its balloon
      has come down to the start size (--no-settle: stats only; --no-wait: neither).
      A guest of that name that already runs is left as it is.
      --no-balloon-driver: the guests do not load virtio_balloon, so they never report
      balloon stats and their balloon never moves; up waits for their agent instead.
      Every guest's balloon has autodeflate='on' (deflate-on-oom) except P-N's when N
      is 2 or more: that one has none, so that both kinds run side by side.
      --no-autodeflate: no guest's balloon has autodeflate.
  exec [--timeout SECS] GUEST CMD...
      Run CMD (joined by spaces, a shell command line) with sh in GUEST through the
      agent; print its output and exit with its exit status (124 on timeout; default 60 s).
  console [-f] GUEST
      Print the guest's console (kernel log, OOM kills); -f follows it.
  ooms [-v] [GUEST...]
      Per guest (default: every lab guest), the number of OOM kills on its console, as
      "GUEST COUNT" lines; -v also prints the kill lines.
  status
      Lab guests with state and balloon stats (MiB).
  list [--prefix P]
      Names of the running lab guests, one per line.
  down [--prefix P]
      Destroy the running lab guests (all, or those named P-*) and remove their files.
  build
      Build the guest (deploy/lab/build-guest.sh); done by "up" when needed.
  start-libvirtd
      Start virtlogd and libvirtd (users, directories, qemu.conf as the lab needs them)
      unless libvirtd already answers; clears a stale pid file and sockets.
  stop-libvirtd
      Stop the libvirtd started from $LIBVIRTD_PID (guests keep running).

Files per guest: $GUESTS_DIR/NAME/{domain.xml,console.log,agent.sock}.
EOF
}

die() { echo "lab: $*" >&2; exit 1; }
note() { echo "lab: $*"; }

vsh() { timeout 60 virsh -q -c "$URI" "$@"; }

need_root() { [[ $(id -u) -eq 0 ]] || die "must run as root"; }

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

check_name() {
  [[ $1 =~ ^[A-Za-z0-9_.-]+$ ]] || die "bad guest name or prefix '$1' (letters, digits, _ . - only)"
}

# ---- libvirtd -----------------------------------------------------------------------

libvirtd_answers() { timeout 10 virsh -c "$URI" version >/dev/null 2>&1; }

pid_alive() { # a zombie (a killed daemon nobody reaped yet) does not count
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != Z && ${stat:0:1} != X ]]
}

pid_is() { # pid_is PIDFILE COMM -> prints the pid if the file names a live COMM process
  local pid
  [[ -r $1 ]] || return 1
  pid=$(tr -dc '0-9' <"$1")
  [[ -n $pid && -r /proc/$pid/comm && $(</proc/"$pid"/comm) == "$2" ]] || return 1
  pid_alive "$pid" || return 1
  echo "$pid"
}

ensure_accounts_and_dirs() {
  getent group kvm >/dev/null || groupadd -r kvm || die "groupadd kvm failed"
  getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu || die "groupadd libvirt-qemu failed"
  if ! getent passwd libvirt-qemu >/dev/null; then
    useradd -r -g libvirt-qemu -G kvm -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu \
      || die "useradd libvirt-qemu failed"
  fi
  mkdir -p /var/log/libvirt/qemu /var/run/libvirt /var/lib/libvirt/qemu /var/cache/libvirt \
    || die "cannot create libvirt's directories"
}

# qemu.conf: QEMU runs as root without a security driver, so it can use files in the
# lab's state directory. Settings it replaces are kept, commented out.
ensure_qemu_conf() {
  local key value changed=0
  mkdir -p "$(dirname "$QEMU_CONF")"
  if [[ ! -e $QEMU_CONF ]]; then
    printf '# QEMU driver settings for the memory_coordinator lab (deploy/lab/lab.sh).\n' >"$QEMU_CONF"
  fi
  for kv in 'user=root' 'group=root' 'security_driver=none'; do
    key=${kv%%=*}
    value=${kv#*=}
    if grep -Eq "^[[:space:]]*${key}[[:space:]]*=[[:space:]]*\"${value}\"[[:space:]]*$" "$QEMU_CONF"; then
      continue
    fi
    sed -i -E "s/^([[:space:]]*${key}[[:space:]]*=)/# replaced by the memory_coordinator lab: \\1/" "$QEMU_CONF"
    printf '%s = "%s"\n' "$key" "$value" >>"$QEMU_CONF"
    changed=1
  done
  [[ $changed -eq 0 ]] || note "set user/group root and security_driver none in $QEMU_CONF"
}

start_libvirtd() {
  need_root
  if libvirtd_answers; then
    note "libvirtd answers on $URI"
    return 0
  fi
  local pid t0=$SECONDS
  if pid=$(pid_is "$LIBVIRTD_PID" libvirtd); then
    note "libvirtd (pid $pid) runs but does not answer yet; waiting"
    for _ in $(seq 60); do
      libvirtd_answers && { note "libvirtd answers on $URI"; return 0; }
      sleep 0.5
    done
    die "libvirtd (pid $pid) runs but does not answer on $URI; see $LIBVIRTD_LOG, or run: lab.sh stop-libvirtd"
  fi
  command -v libvirtd >/dev/null || die "libvirtd not installed; run deploy/lab/install-deps.sh"
  ensure_accounts_and_dirs
  ensure_qemu_conf
  # Nothing of a previous libvirtd is alive: its pid file and sockets are stale.
  rm -f "$LIBVIRTD_PID" /run/libvirt/libvirt-sock /run/libvirt/libvirt-sock-ro \
    /run/libvirt/libvirt-admin-sock
  if ! pid_is "$VIRTLOGD_PID" virtlogd >/dev/null; then
    rm -f "$VIRTLOGD_PID" /run/libvirt/virtlogd-sock /run/libvirt/virtlogd-admin-sock
    virtlogd -d || die "virtlogd -d failed"
  fi
  LIBVIRT_LOG_OUTPUTS="3:file:${LIBVIRTD_LOG}" libvirtd -d || die "libvirtd -d failed; see $LIBVIRTD_LOG"
  for _ in $(seq 120); do
    if libvirtd_answers; then
      note "libvirtd started, answers on $URI after $((SECONDS - t0)) s"
      return 0
    fi
    sleep 0.5
  done
  die "libvirtd started but does not answer on $URI after 60 s; see $LIBVIRTD_LOG"
}

stop_libvirtd() {
  need_root
  local pid
  if ! pid=$(pid_is "$LIBVIRTD_PID" libvirtd); then
    if libvirtd_answers; then
      die "libvirtd answers but $LIBVIRTD_PID names no libvirtd process; not stopping a daemon this script did not start"
    fi
    rm -f "$LIBVIRTD_PID"
    note "libvirtd is not running"
    return 0
  fi
  kill -TERM "$pid" || die "cannot signal libvirtd (pid $pid)"
  for _ in $(seq 150); do
    pid_alive "$pid" || { note "libvirtd (pid $pid) stopped; guests keep running"; return 0; }
    sleep 0.1
  done
  note "libvirtd (pid $pid) did not stop within 15 s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
  for _ in $(seq 50); do
    pid_alive "$pid" || return 0
    sleep 0.1
  done
  die "libvirtd (pid $pid) survived SIGKILL"
}

# ---- guests -------------------------------------------------------------------------

# Running domains that carry the lab's metadata, optionally only those named PREFIX-*.
lab_guests() {
  local prefix=${1:-} name
  for name in $(vsh list --name 2>/dev/null); do
    [[ -z $prefix || $name == "$prefix"-* ]] || continue
    if vsh dumpxml "$name" 2>/dev/null | grep -q "$LAB_NS"; then
      echo "$name"
    fi
  done
}

domain_xml() { # domain_xml NAME MAX_MIB START_MIB VCPUS TYPE PREFIX AUTODEFLATE(on|off) [EXTRA_CMDLINE]
  local name=$1 max=$2 start=$3 vcpus=$4 type=$5 prefix=$6 autodeflate=$7 extra=${8:-}
  local dir="$GUESTS_DIR/$1"
  cat <<EOF
<domain type='$type'>
  <name>$name</name>
  <title>memory_coordinator lab guest</title>
  <metadata>
    <lab:guest xmlns:lab='$LAB_NS' prefix='$prefix'/>
  </metadata>
  <memory unit='MiB'>$max</memory>
  <currentMemory unit='MiB'>$start</currentMemory>
  <vcpu>$vcpus</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$GUEST_BUILD_DIR/kernel</kernel>
    <initrd>$GUEST_BUILD_DIR/initrd.gz</initrd>
    <cmdline>$GUEST_CMDLINE memcoord.name=$name$extra</cmdline>
  </os>
  <features><acpi/></features>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <controller type='usb' model='none'/>
    <serial type='file'>
      <source path='$dir/console.log' append='off'/>
      <target port='0'/>
    </serial>
    <channel type='unix'>
      <source mode='bind' path='$dir/agent.sock'/>
      <target type='virtio' name='$AGENT_PORT_NAME'/>
    </channel>
    <memballoon model='virtio' autodeflate='$autodeflate'>
      <stats period='1'/>
    </memballoon>
  </devices>
</domain>
EOF
}

# Prints "NAME KEY=VALUE ..." per running domain named in the arguments (all when
# none), from `virsh domstats --balloon --state`. Asks for all domains, because naming
# one that is gone fails the whole call.
domstats_lines() {
  vsh domstats --balloon --state 2>/dev/null | awk -v want="$*" '
    BEGIN { n = split(want, w, " "); for (i = 1; i <= n; i++) keep[w[i]] = 1 }
    function flush() { if (line != "" && (n == 0 || name in keep)) print line }
    /^Domain: / { flush(); name = $2; gsub(/\047/, "", name); line = name; next }
    /=/ { gsub(/^[ \t]+/, ""); line = line " " $0 }
    END { flush() }'
}

cmd_up() {
  need_root
  local n="" prefix=lab max=2048 start=1024 vcpus=1 accel=tcg timeout_s=180 wait=1 settle=1
  local balloon=1 extra="" autodeflate_all=mixed
  local stats_time=""
  while [[ $# -gt 0 ]]; do
    case $1 in
      --prefix) prefix=${2:?--prefix needs a value}; shift 2 ;;
      --max-mib) max=${2:?--max-mib needs a value}; shift 2 ;;
      --start-mib) start=${2:?--start-mib needs a value}; shift 2 ;;
      --vcpus) vcpus=${2:?--vcpus needs a value}; shift 2 ;;
      --accel) accel=${2:?--accel needs a value}; shift 2 ;;
      --timeout) timeout_s=${2:?--timeout needs a value}; shift 2 ;;
      --no-wait) wait=0; shift ;;
      --no-settle) settle=0; shift ;;
      --no-balloon-driver) balloon=0; shift ;;
      --no-autodeflate) autodeflate_all=off; shift ;;
      -*) die "up: unknown option '$1' (see lab.sh --help)" ;;
      *) [[ -z $n ]] || die "up: more than one N given"; n=$1; shift ;;
    esac
  done
  if ! is_uint "$n" || [[ $n -lt 1 ]]; then
    die "up: N must be a positive number of guests (lab.sh up N)"
  fi
  for v in max start vcpus timeout_s; do
    is_uint "${!v}" || die "up: --${v//_/-} must be a number, got '${!v}'"
  done
  [[ $start -le $max ]] || die "up: --start-mib $start is above --max-mib $max"
  [[ $start -ge 128 ]] || die "up: --start-mib $start is too small for the guest (min 128)"
  check_name "$prefix"
  local type
  case $accel in
    tcg) type=qemu ;;
    kvm) type=kvm ;;
    *) die "up: --accel must be tcg or kvm, got '$accel'" ;;
  esac
  # guest-init.sh leaves virtio_balloon out when it sees this on the command line.
  [[ $balloon -eq 1 ]] || extra=" memcoord.no_balloon=1"

  local t0=$SECONDS
  start_libvirtd
  "$here/build-guest.sh" "$GUEST_BUILD_DIR" || die "building the guest failed"

  local names=() name dir i state pids=() created=() autodeflate
  for ((i = 1; i <= n; i++)); do
    name="$prefix-$i"
    names+=("$name")
    state=$(vsh domstate "$name" 2>/dev/null || true)
    if [[ -n $state ]]; then
      vsh dumpxml "$name" | grep -q "$LAB_NS" \
        || die "a domain named $name exists and is not a lab guest; choose another --prefix"
      note "$name already exists ($state); left as it is"
      continue
    fi
    dir="$GUESTS_DIR/$name"
    rm -rf "$dir"
    mkdir -p "$dir"
    [[ ${#dir} -lt 95 ]] || die "state path $dir is too long for a unix socket; use a shorter MEMCOORD_LAB_DIR"
    # The last of two or more guests runs without autodeflate.
    autodeflate=on
    [[ $n -lt 2 || $i -lt $n ]] || autodeflate=off
    [[ $autodeflate_all != off ]] || autodeflate=off
    domain_xml "$name" "$max" "$start" "$vcpus" "$type" "$prefix" "$autodeflate" "$extra" \
      >"$dir/domain.xml"
    # Created in parallel: each `virsh create` spends seconds in libvirtd and QEMU setup.
    vsh create "$dir/domain.xml" >"$dir/create.log" 2>&1 &
    pids+=($!)
    created+=("$name")
  done
  local failed=0
  for i in "${!pids[@]}"; do
    name=${created[$i]}
    if wait "${pids[$i]}"; then
      note "started $name (max $max MiB, start $start MiB, $vcpus vCPU, $accel$([[ $balloon -eq 1 ]] || echo ', no balloon driver')$(grep -q "autodeflate='off'" "$GUESTS_DIR/$name/domain.xml" && echo ', no autodeflate'))"
    else
      echo "lab: virsh create failed for $name: $(cat "$GUESTS_DIR/$name/create.log") (see /var/log/libvirt/qemu/$name.log)" >&2
      failed=1
    fi
  done
  [[ $failed -eq 0 ]] || die "up: not every guest started"
  [[ $wait -eq 1 ]] || { note "not waiting for balloon stats (--no-wait)"; return 0; }
  if [[ $balloon -eq 0 ]]; then
    wait_agents "$timeout_s" "$t0" "${names[@]}"
    return 0
  fi

  # Stats first (the balloon driver is up), then the balloon at --start-mib: the guest
  # boots with --max-mib and inflates the balloon down to the start size.
  local t_boot=$SECONDS deadline=$((SECONDS + timeout_s)) line cur
  declare -A ready=() settled=() seen=()
  while [[ ${#settled[@]} -lt ${#names[@]} ]]; do
    seen=()
    while read -r line; do
      seen[${line%% *}]=1
      name=${line%% *}
      if [[ -z ${ready[$name]:-} && $line == *" balloon.unused="* ]]; then
        ready[$name]=1
        note "$name reports balloon stats after $((SECONDS - t_boot)) s"
      fi
      cur=$(sed -n 's/.* balloon\.current=\([0-9]*\).*/\1/p' <<<"$line")
      if [[ -n ${ready[$name]:-} && -z ${settled[$name]:-} && -n $cur ]] \
          && [[ $((cur / 1024)) -le $((start + 8)) || $settle -eq 0 ]]; then
        settled[$name]=1
        [[ $settle -eq 0 ]] || note "$name balloon at $((cur / 1024)) MiB after $((SECONDS - t_boot)) s"
      fi
    done < <(domstats_lines "${names[@]}")
    for name in "${names[@]}"; do
      if [[ -z ${seen[$name]:-} ]] && ! vsh domstate "$name" >/dev/null 2>&1; then
        tail -n 15 "$GUESTS_DIR/$name/console.log" >&2 || true
        die "up: $name is gone (crashed or destroyed); console: $GUESTS_DIR/$name/console.log"
      fi
    done
    if [[ ${#ready[@]} -eq ${#names[@]} && -z ${stats_time:-} ]]; then
      stats_time=$((SECONDS - t_boot))
      note "all ${#names[@]} guests report balloon stats ${stats_time} s after start ($((SECONDS - t0)) s in all)"
    fi
    [[ ${#settled[@]} -lt ${#names[@]} ]] || break
    if [[ $SECONDS -ge $deadline ]]; then
      for name in "${names[@]}"; do
        [[ -n ${ready[$name]:-} ]] || echo "lab: $name: no balloon stats; console: $GUESTS_DIR/$name/console.log" >&2
        [[ -z ${ready[$name]:-} || -n ${settled[$name]:-} ]] || echo "lab: $name: balloon not yet at $start MiB" >&2
      done
      die "up: guests not ready within $timeout_s s"
    fi
    sleep 0.5
  done
  note "up: ${#names[@]} guests ready in $((SECONDS - t0)) s"
}

# Without the balloon driver there are no stats to wait for: a guest is ready when its
# init says so on the console (the agent runs from then on).
wait_agents() { # wait_agents TIMEOUT_S T0 NAME...
  local timeout_s=$1 t0=$2 t_boot=$SECONDS name
  shift 2
  local deadline=$((SECONDS + timeout_s))
  declare -A ready=()
  while [[ ${#ready[@]} -lt $# ]]; do
    for name in "$@"; do
      [[ -z ${ready[$name]:-} ]] || continue
      if grep -aq 'lab-init: ready' "$GUESTS_DIR/$name/console.log" 2>/dev/null; then
        ready[$name]=1
        note "$name (no balloon driver) has its agent up after $((SECONDS - t_boot)) s"
      elif ! vsh domstate "$name" >/dev/null 2>&1; then
        tail -n 15 "$GUESTS_DIR/$name/console.log" >&2 || true
        die "up: $name is gone (crashed or destroyed); console: $GUESTS_DIR/$name/console.log"
      fi
    done
    [[ ${#ready[@]} -lt $# ]] || break
    [[ $SECONDS -lt $deadline ]] || die "up: guests without balloon driver not ready within $timeout_s s"
    sleep 0.5
  done
  note "up: $# guests ready in $((SECONDS - t0)) s"
}

cmd_exec() {
  local limit=60
  while [[ $# -gt 0 ]]; do
    case $1 in
      --timeout) limit=${2:?--timeout needs a value}; shift 2 ;;
      --) shift; break ;;
      -*) die "exec: unknown option '$1'" ;;
      *) break ;;
    esac
  done
  if ! is_uint "$limit" || [[ $limit -lt 1 ]]; then
    die "exec: --timeout must be a positive number of seconds"
  fi
  [[ $# -ge 2 ]] || die "exec: usage: lab.sh exec [--timeout SECS] GUEST CMD..."
  local guest=$1
  shift
  check_name "$guest"
  local sock="$GUESTS_DIR/$guest/agent.sock"
  [[ -S $sock ]] || die "exec: no agent socket $sock (is $guest a running lab guest?)"
  command -v socat >/dev/null || die "exec: socat not installed; run deploy/lab/install-deps.sh"

  # One client at a time: QEMU serves a single connection on the channel socket.
  local lock="$GUESTS_DIR/$guest/agent.lock"
  exec {lock_fd}>>"$lock" || die "exec: cannot open $lock"
  flock -w "$limit" "$lock_fd" || die "exec: $guest's agent is busy (lock $lock held for $limit s)"

  local id="$$.$RANDOM.$SECONDS" b64 rc="" line started=0
  b64=$(printf '%s' "$*" | base64 -w0)
  coproc AGENT { exec socat - "UNIX-CONNECT:$sock" 2>/dev/null; }
  # shellcheck disable=SC2153 # AGENT_PID is set by coproc
  local in=${AGENT[0]} outfd=${AGENT[1]} agent_pid=$AGENT_PID
  # A client left connected would keep the channel from the next one.
  # shellcheck disable=SC2064 # expand the pid now
  trap "kill $agent_pid 2>/dev/null || true" EXIT
  trap 'exit 143' TERM
  trap 'exit 130' INT
  printf 'RUN %s %s %s\n' "$id" "$limit" "$b64" >&"$outfd"
  # The guest kills the command after $limit s; allow some more for the answer.
  local deadline=$((SECONDS + limit + 15))
  while [[ $SECONDS -lt $deadline ]]; do
    if ! IFS= read -r -t 1 line <&"$in"; then
      # read returns >128 on timeout; anything else means the connection closed
      [[ -d /proc/$agent_pid ]] && continue
      break
    fi
    if [[ $started -eq 0 ]]; then
      [[ $line == "@@begin $id" ]] && started=1
      continue
    fi
    if [[ $line =~ ^@@end\ ${id//./\\.}\ ([0-9]+)$ ]]; then
      rc=${BASH_REMATCH[1]}
      break
    fi
    printf '%s\n' "$line"
  done
  kill "$agent_pid" 2>/dev/null || true
  wait "$agent_pid" 2>/dev/null || true
  if [[ -z $rc ]]; then
    echo "lab: exec: no answer from $guest's agent within $((limit + 15)) s" >&2
    exit 124
  fi
  # busybox timeout kills with SIGKILL: 137
  [[ $rc -ne 137 ]] || echo "lab: exec: command killed in $guest (timeout of $limit s, or OOM)" >&2
  exit "$rc"
}

cmd_console() {
  local follow=0
  [[ ${1:-} == -f ]] && { follow=1; shift; }
  [[ $# -eq 1 ]] || die "console: usage: lab.sh console [-f] GUEST"
  check_name "$1"
  local f="$GUESTS_DIR/$1/console.log"
  [[ -e $f ]] || die "console: no console file $f (is $1 a lab guest?)"
  if [[ $follow -eq 1 ]]; then exec tail -n +1 -f "$f"; fi
  cat "$f"
}

all_guest_dirs() {
  local d
  for d in "$GUESTS_DIR"/*/; do
    [[ -d $d ]] && basename "$d"
  done
  return 0
}

cmd_ooms() {
  local verbose=0 g f count
  [[ ${1:-} == -v ]] && { verbose=1; shift; }
  local guests=("$@")
  [[ ${#guests[@]} -gt 0 ]] || mapfile -t guests < <(all_guest_dirs)
  for g in "${guests[@]}"; do
    check_name "$g"
    f="$GUESTS_DIR/$g/console.log"
    [[ -e $f ]] || die "ooms: no console file $f (is $g a lab guest?)"
    # The kernel's line: "Out of memory: Killed process PID (COMM) total-vm:..."
    count=$(grep -aci 'out of memory: Killed process' "$f" || true)
    echo "$g $count"
    if [[ $verbose -eq 1 ]]; then
      grep -ai 'out of memory: Killed process' "$f" | sed 's/^/  /' || true
    fi
    if grep -aq 'Kernel panic' "$f"; then echo "lab: $g: kernel panic on its console" >&2; fi
  done
}

cmd_status() {
  local names line
  mapfile -t names < <(lab_guests)
  if [[ ${#names[@]} -eq 0 ]]; then
    note "no lab guests run on $URI"
    return 0
  fi
  printf '%-12s %-8s %8s %8s %8s %8s %8s %8s %6s\n' GUEST STATE MAX_MIB ACTUAL UNUSED AVAIL USABLE RSS AGE_S
  while read -r line; do
    awk -v now="$(date +%s)" '
      { name = $1; for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
      function mib(k) { return (k in v) ? sprintf("%d", v[k] / 1024) : "-" }
      END {
        st = v["state.state"]; s = (st == 1) ? "running" : (st == 3) ? "paused" : "state" st
        age = ("balloon.last-update" in v) ? now - v["balloon.last-update"] : "-"
        printf "%-12s %-8s %8s %8s %8s %8s %8s %8s %6s\n", name, s, mib("balloon.maximum"),
          mib("balloon.current"), mib("balloon.unused"), mib("balloon.available"),
          mib("balloon.usable"), mib("balloon.rss"), age
      }' <<<"$line"
  done < <(domstats_lines "${names[@]}")
}

cmd_list() {
  local prefix=""
  [[ ${1:-} == --prefix ]] && { prefix=${2:?--prefix needs a value}; check_name "$prefix"; }
  lab_guests "$prefix"
}

cmd_down() {
  need_root
  local prefix="" name d
  if [[ ${1:-} == --prefix ]]; then prefix=${2:?--prefix needs a value}; check_name "$prefix"; fi
  if libvirtd_answers; then
    for name in $(lab_guests "$prefix"); do
      vsh destroy "$name" >/dev/null || die "virsh destroy $name failed"
      note "destroyed $name"
    done
  else
    die "down: libvirtd does not answer on $URI, so running guests cannot be told from gone ones; run lab.sh start-libvirtd first"
  fi
  for d in $(all_guest_dirs); do
    [[ -z $prefix || $d == "$prefix"-* ]] || continue
    if [[ -n $(vsh domstate "$d" 2>/dev/null || true) ]]; then
      note "$d still exists in libvirt; keeping $GUESTS_DIR/$d"
      continue
    fi
    rm -rf "${GUESTS_DIR:?}/$d"
  done
  note "down"
}

main() {
  local cmd=${1:-}
  [[ -n $cmd ]] || { usage >&2; exit 2; }
  shift
  case $cmd in
    -h|--help|help) usage ;;
    up) cmd_up "$@" ;;
    exec) cmd_exec "$@" ;;
    console) cmd_console "$@" ;;
    ooms) cmd_ooms "$@" ;;
    status) cmd_status "$@" ;;
    list) cmd_list "$@" ;;
    down) cmd_down "$@" ;;
    build) "$here/build-guest.sh" "$GUEST_BUILD_DIR" ;;
    start-libvirtd) start_libvirtd ;;
    stop-libvirtd) stop_libvirtd ;;
    *) die "unknown command '$cmd' (see lab.sh --help)" ;;
  esac
}

main "$@"

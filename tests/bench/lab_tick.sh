#!/usr/bin/env bash
# lab_tick.sh: the time of real ticks against lab guests, and the libvirt
# calls each one made (issue 9).
#
# Starts N lab guests (deploy/lab/lab.sh up N --prefix P), runs the daemon on
# qemu:///system with a configuration that includes only P-* (other guests on
# the host are neither touched nor exported), and follows /metrics until T
# ticks were published. For each tick it prints
#   - the tick time: the growth of memcoord_cycle_duration_seconds_sum, which
#     is TickReport::duration_s: sample + decide + guardrails + set (the
#     metrics update after it is not included)
#   - balloon commands sent (memcoord_balloon_actions_total) and the libvirt
#     calls made (memcoord_libvirt_calls_total{call}), both as growth over the
#     tick
# and then the daemon's action lines. A midway memhog in P-1 makes the later
# ticks grow a guest as well as reclaim from the idle ones.
#
# Usage (root; the lab needs libvirtd, QEMU and the lab guest build):
#   lab_tick.sh [--guests N] [--ticks T] [--interval S] [--prefix P]
#               [--bin PATH] [--keep]
#     --guests N    lab guests (default 2)
#     --ticks T     ticks to report (default 8)
#     --interval S  daemon interval in seconds (default 2)
#     --prefix P    guest name prefix (default bench)
#     --bin PATH    memory_coordinator (default ./memory_coordinator, then
#                   build/memory_coordinator)
#     --keep        leave the guests running (default: lab.sh down --prefix P)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
lab=$here/../../deploy/lab/lab.sh
guests=2
ticks=8
interval=2
prefix=bench
bin=""
keep=0

die() { echo "lab_tick: $*" >&2; exit 2; }

while [[ $# -gt 0 ]]; do
  case $1 in
    --guests) guests=$2; shift 2 ;;
    --ticks) ticks=$2; shift 2 ;;
    --interval) interval=$2; shift 2 ;;
    --prefix) prefix=$2; shift 2 ;;
    --bin) bin=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
[[ $guests =~ ^[0-9]+$ && $guests -gt 0 ]] || die "--guests must be a positive integer"
[[ $ticks =~ ^[0-9]+$ && $ticks -gt 0 ]] || die "--ticks must be a positive integer"
[[ $(id -u) -eq 0 ]] || die "must run as root (the lab runs libvirtd and QEMU)"
if [[ -z $bin ]]; then
  for b in ./memory_coordinator build/memory_coordinator; do
    [[ -x $b ]] && { bin=$b; break; }
  done
fi
[[ -n $bin && -x $bin ]] || die "memory_coordinator not found; give --bin"

tmp=$(mktemp -d)
pid=""
cleanup() {
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  if [[ $keep -eq 0 ]]; then "$lab" down --prefix "$prefix" >/dev/null 2>&1 || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

echo "== lab: $guests guests $prefix-1..$prefix-$guests"
"$lab" up "$guests" --prefix "$prefix" || die "lab.sh up failed"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
url=http://127.0.0.1:$port/metrics
cat >"$tmp/memory_coordinator.yaml" <<EOF
connect: qemu:///system
interval_s: $interval
policy: adaptive
domains:
  include: ["$prefix-*"]
web: {listen: "127.0.0.1:$port"}
log: {level: info}
EOF

echo "== daemon: $bin, interval $interval s, policy adaptive, /metrics on 127.0.0.1:$port"
"$bin" --config "$tmp/memory_coordinator.yaml" >"$tmp/daemon.log" 2>&1 &
pid=$!

# One line per published tick: cycles, duration sum, actions, then call=count.
snapshot() {
  curl -sf "$url" | awk '
    $1 == "memcoord_cycles_total" { cycles = $2 }
    $1 == "memcoord_cycle_duration_seconds_sum" { sum = $2 }
    /^memcoord_balloon_actions_total\{/ { actions += $2 }
    /^memcoord_libvirt_calls_total\{/ {
      match($1, /call="[^"]*"/)
      calls = calls " " substr($1, RSTART + 6, RLENGTH - 7) "=" $2
    }
    END { if (cycles != "") print cycles, sum, actions + 0 calls }'
}

deadline=$((SECONDS + 60 + ticks * interval * 3))
last=""
seen=0
hog_started=0
: >"$tmp/ticks"
while [[ $seen -lt $ticks ]]; do
  [[ $SECONDS -lt $deadline ]] || { tail -20 "$tmp/daemon.log" >&2; die "timed out waiting for ticks"; }
  kill -0 "$pid" 2>/dev/null || { tail -20 "$tmp/daemon.log" >&2; die "the daemon exited"; }
  now=$(snapshot || true)
  # The counters start at zero: the first tick (which also reads each guest's
  # metadata once) is measured against that when it is the first one seen.
  if [[ -z $last && ${now%% *} == 1 ]]; then last="0 0 0"; fi
  if [[ -n $now && ${now%% *} != "${last%% *}" ]]; then
    [[ -n $last ]] && echo "$last|$now" >>"$tmp/ticks" && seen=$((seen + 1))
    last=$now
    if [[ $hog_started -eq 0 && $seen -ge $((ticks / 2)) ]]; then
      # A guest that starts to need memory: the next ticks grow it.
      "$lab" exec "$prefix-1" memhog start bench 900 150 >/dev/null 2>&1 &&
        echo "== tick $seen: memhog in $prefix-1 grows to 900 MiB at 150 MiB/s"
      hog_started=1
    fi
  fi
  sleep 0.1
done

echo "== per tick (sample + decide + guardrails + set; metrics update excluded)"
awk -F'|' '
  {
    n0 = split($1, a, " "); n1 = split($2, b, " ")
    dc = b[1] - a[1]
    printf "cycle %-4d %8.2f ms  actions %-3d calls:", b[1], (b[2] - a[2]) / dc * 1000, b[3] - a[3]
    delete before
    for (i = 4; i <= n0; i++) { split(a[i], kv, "="); before[kv[1]] = kv[2] }
    for (i = 4; i <= n1; i++) {
      split(b[i], kv, "=")
      d = kv[2] - (kv[1] in before ? before[kv[1]] : 0)
      if (d > 0) printf " %s=%d", kv[1], d
    }
    if (dc > 1) printf "  (over %d cycles)", dc
    printf "\n"
    total += (b[2] - a[2]); cycles += dc
  }
  END { if (cycles > 0) printf "mean tick: %.2f ms over %d ticks\n", total / cycles * 1000, cycles }
' "$tmp/ticks"

echo "== daemon log (actions and state changes)"
grep -E 'domain |sampling|libvirt' "$tmp/daemon.log" | tail -40 || true

#!/usr/bin/env bash
# tick_cost.sh: what one real tick costs with lab guests: its
# duration (sample + decide + guardrails + set) and the libvirt calls it makes.
#
# Brings up N lab guests P-1..P-N (deploy/lab/lab.sh up; guests already up are
# reused), starts memory_coordinator on qemu:///system with a configuration
# that includes only P-*, and follows /metrics at 20 Hz. Two phases of T ticks:
#   idle  the guests are idle (after the first reclaims have settled)
#   busy  a memhog grows in P-1, so ticks also send balloon commands
# For each phase it prints the tick duration (mean, median, max, from the
# growth of memcoord_tick_duration_seconds_sum and _count from one published
# tick to the next) and the libvirt calls per tick (growth of
# memcoord_libvirt_calls_total{call} over the phase / ticks), beside the
# balloon commands per tick. Ticks are told apart by memcoord_ticks_total.
#
# Usage (root): tick_cost.sh [--guests N] [--ticks T] [--interval S]
#                            [--prefix P] [--bin PATH] [--keep]
#   --guests N    lab guests (default 4)
#   --ticks T     ticks per phase (default 15)
#   --interval S  daemon interval in seconds (default 2)
#   --prefix P    guest name prefix (default ltc)
#   --bin PATH    memory_coordinator (default build/memory_coordinator)
#   --keep        leave the guests up (default: lab.sh down --prefix P)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
lab=$here/../../deploy/lab/lab.sh
# shellcheck source=tests/lab/lab_common.sh
source "$here/lab_common.sh"
guests=4
ticks=15
interval=2
prefix=ltc
bin=""
keep=0

die() { echo "tick_cost: $*" >&2; exit 2; }

while [[ $# -gt 0 ]]; do
  case $1 in
    --guests) guests=${2:?}; shift 2 ;;
    --ticks) ticks=${2:?}; shift 2 ;;
    --interval) interval=${2:?}; shift 2 ;;
    --prefix) prefix=${2:?}; shift 2 ;;
    --bin) bin=${2:?}; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
[[ $guests =~ ^[0-9]+$ && $guests -gt 0 ]] || die "--guests must be a positive integer"
[[ $ticks =~ ^[0-9]+$ && $ticks -gt 1 ]] || die "--ticks must be an integer > 1"
[[ $interval =~ ^[0-9]+(\.[0-9]+)?$ && $interval != 0 ]] || die "--interval must be a positive number"
[[ $prefix =~ ^[A-Za-z0-9_.-]+$ ]] || die "bad --prefix"
require_root
bin=$(find_bin "$bin")

# shellcheck source=tests/daemon_harness.sh
source "$here/../daemon_harness.sh"
on_exit() { # shellcheck disable=SC2317 # run by the harness at exit
  if [[ $keep -eq 0 ]]; then "$lab" down --prefix "$prefix" >/dev/null 2>&1 || true; fi
}
trap 'exit 143' TERM
trap 'exit 130' INT

echo "== lab: $guests guests $prefix-1..$prefix-$guests (max 2048 MiB, start 512 MiB)"
"$lab" up "$guests" --prefix "$prefix" --max-mib 2048 --start-mib 512 >/dev/null \
  || die "lab.sh up failed"
"$lab" exec "$prefix-1" 'memhog stop >/dev/null 2>&1; true' >/dev/null

port=$(free_port)
url=http://127.0.0.1:$port/metrics
cat >"$tmp/config.yaml" <<EOF
connect: qemu:///system
interval_s: $interval
policy: adaptive
domains:
  include: ["$prefix-*"]
web:
  listen: "127.0.0.1:$port"
log:
  level: info
EOF
"$bin" --config "$tmp/config.yaml" >"$tmp/daemon.log" 2>&1 &
pid=$!
echo "== daemon: $bin (pid $pid), interval $interval s, /metrics on 127.0.0.1:$port"

# "cycles sum count actions call=value..." from one scrape.
scrape() {
  curl -sf --max-time 2 "$url" | awk '
    $1 == "memcoord_ticks_total" { cycles = $2 }
    $1 == "memcoord_tick_duration_seconds_sum" { sum = $2 }
    $1 == "memcoord_tick_duration_seconds_count" { count = $2 }
    /^memcoord_balloon_actions_total\{/ { actions += $2 }
    /^memcoord_libvirt_calls_total\{/ {
      match($1, /call="[^"]*"/)
      calls = calls " " substr($1, RSTART + 6, RLENGTH - 7) "=" $2
    }
    END { if (cycles != "") printf "%d %.9f %d %d%s\n", cycles, sum, count, actions, calls }'
}

# Records published ticks into FILE until T more were seen: one line per tick
# change, "previous|current" snapshot.
follow() { # follow FILE T
  local file=$1 want=$2
  local last="" now seen=0 deadline=$((SECONDS + 60 + want * (${interval%.*} + 1) * 3))
  : >"$file"
  while [[ $seen -lt $want ]]; do
    [[ $SECONDS -lt $deadline ]] || { tail -20 "$tmp/daemon.log" >&2; die "timed out waiting for ticks"; }
    kill -0 "$pid" 2>/dev/null || { tail -20 "$tmp/daemon.log" >&2; die "the daemon exited"; }
    now=$(scrape || true)
    if [[ -n $now && ${now%% *} != "${last%% *}" ]]; then
      if [[ -n $last ]]; then echo "$last|$now" >>"$file"; seen=$((seen + 1)); fi
      last=$now
    fi
    sleep 0.05
  done
}

report() { # report NAME FILE
  awk -F'|' -v name="$1" -v guests="$guests" '
    function parse(s, m,   n, f, i, kv) {
      n = split(s, f, " ")
      m["cycles"] = f[1]; m["sum"] = f[2]; m["count"] = f[3]; m["actions"] = f[4]
      for (i = 5; i <= n; i++) { split(f[i], kv, "="); m["call:" kv[1]] = kv[2] }
    }
    NR == 1 { parse($1, first) }
    {
      delete a; delete b; parse($1, a); parse($2, b)
      dc = b["count"] - a["count"]
      if (dc < 1) next
      ms = (b["sum"] - a["sum"]) / dc * 1000
      d[++n] = ms; total += ms * dc; ticks += dc
      last_line = $2
    }
    END {
      if (ticks == 0) { print name ": no ticks"; exit 1 }
      parse(last_line, end)
      # median and max of the per-tick durations (insertion sort; few ticks)
      for (i = 2; i <= n; i++) { v = d[i]; j = i - 1; while (j > 0 && d[j] > v) { d[j + 1] = d[j]; j-- } d[j + 1] = v }
      med = (n % 2) ? d[(n + 1) / 2] : (d[n / 2] + d[n / 2 + 1]) / 2
      printf "%-5s %3d ticks, %d guests: tick mean %.2f ms, median %.2f ms, max %.2f ms; balloon commands %.2f/tick\n",
        name, ticks, guests, total / ticks, med, d[n], (end["actions"] - first["actions"]) / ticks
      printf "      libvirt calls per tick:"
      for (k in end) if (k ~ /^call:/) {
        c = (end[k] - (k in first ? first[k] : 0)) / ticks
        if (c > 0) printf " %s=%.2f", substr(k, 6), c
      }
      printf "\n"
    }' "$2"
}

# Let the first reclaims of the fresh guests pass, then measure idle ticks.
follow "$tmp/warmup" 6
follow "$tmp/idle" "$ticks"
"$lab" exec "$prefix-1" memhog start tick 1500 40 >/dev/null
echo "== memhog in $prefix-1: grows to 1500 MiB at 40 MiB/s"
follow "$tmp/busy" "$ticks"
"$lab" exec "$prefix-1" memhog stop >/dev/null || true

echo "== tick cost (sample + decide + guardrails + set; the metrics update after it is not included)"
report idle "$tmp/idle"
report busy "$tmp/busy"
echo "== balloon commands during the busy phase"
grep -E "domain $prefix-[0-9]+: [0-9]+ MiB ->" "$tmp/daemon.log" | tail -n 12 || true

#!/usr/bin/env bash
# daemon_footprint.sh: what the daemon costs with many guests.
#
# Runs the real memory_coordinator on a generated scenario of N simulated
# guests (`--connect sim:FILE --interval 1 --policy adaptive`), scrapes
# /metrics once a second for the given time, and prints
#   - resident memory: VmRSS at the end and VmHWM (peak), from /proc/PID/status
#   - CPU per tick: utime+stime from /proc/PID/stat over the ticks counted by
#     memcoord_ticks_total, measured from the first scrape on (so loading the
#     scenario is left out; the total with start-up is printed too)
#   - the tick time the daemon reports (memcoord_tick_duration_seconds)
#   - scrape latency (curl's time_total): median and maximum, and the size
#
# Usage:
#   daemon_footprint.sh [--guests N] [--duration S] [--bin PATH] [--bench PATH]
#                       [--max-rss-mb MB]
#     --guests N      simulated guests (default 1000)
#     --duration S    seconds of scraping (default 30)
#     --bin PATH      memory_coordinator (default: ./memory_coordinator, then
#                     build/memory_coordinator)
#     --bench PATH    memcoord_tick_bench, which writes the scenario (default:
#                     next to --bin in tests/bench/)
#     --max-rss-mb MB exit 1 when VmHWM is at or above MB (the target
#                     for 1000 guests is 40), or when no tick was counted
set -euo pipefail

guests=1000
duration=30
bin=""
bench=""
max_rss_mb=""

die() { echo "daemon_footprint: $*" >&2; exit 2; }

while [[ $# -gt 0 ]]; do
  case $1 in
    --guests) guests=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --bin) bin=$2; shift 2 ;;
    --bench) bench=$2; shift 2 ;;
    --max-rss-mb) max_rss_mb=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
[[ $guests =~ ^[0-9]+$ && $guests -gt 0 ]] || die "--guests must be a positive integer"
[[ $duration =~ ^[0-9]+$ && $duration -ge 3 ]] || die "--duration must be an integer of at least 3"

if [[ -z $bin ]]; then
  for b in ./memory_coordinator build/memory_coordinator; do
    [[ -x $b ]] && { bin=$b; break; }
  done
fi
[[ -n $bin && -x $bin ]] || die "memory_coordinator not found; give --bin"
if [[ -z $bench ]]; then bench=$(dirname "$bin")/tests/bench/memcoord_tick_bench; fi
[[ -x $bench ]] || die "memcoord_tick_bench not found at '$bench'; give --bench"

# shellcheck source=tests/daemon_harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/../daemon_harness.sh"

scenario=$tmp/scale-$guests-guests.yaml
"$bench" --write-scenario="$guests" --duration=240 >"$scenario"

port=$(free_port)
url=http://127.0.0.1:$port/metrics

"$bin" --connect "sim:$scenario" --interval 1 --listen "127.0.0.1:$port" \
  --policy adaptive >"$tmp/daemon.log" 2>&1 &
pid=$!

# Wait for the first tick to be published.
for _ in $(seq 1 100); do
  if curl -sf -o "$tmp/first" "$url" 2>/dev/null &&
     grep -q '^memcoord_ticks_total [1-9]' "$tmp/first"; then
    break
  fi
  kill -0 "$pid" 2>/dev/null || { cat "$tmp/daemon.log" >&2; die "the daemon exited"; }
  sleep 0.1
done
grep -q '^memcoord_ticks_total [1-9]' "$tmp/first" 2>/dev/null ||
  { tail -20 "$tmp/daemon.log" >&2; die "no tick published within 10 s"; }

hz=$(getconf CLK_TCK)
# utime + stime in clock ticks (fields 14 and 15; the command name in field 2
# has no spaces here, but cut after the closing parenthesis to be safe).
cpu_ticks() { sed 's/^.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}'; }
cycles_of() { awk '$1 == "memcoord_ticks_total" {print $2}' "$1"; }
status_kb() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$pid/status"; }

cpu0=$(cpu_ticks)
cycles0=$(cycles_of "$tmp/first")
: >"$tmp/latency"
end=$((SECONDS + duration))
while [[ $SECONDS -lt $end ]]; do
  kill -0 "$pid" 2>/dev/null || { tail -20 "$tmp/daemon.log" >&2; die "the daemon exited"; }
  curl -sf -o "$tmp/scrape" -w '%{time_total}\n' "$url" >>"$tmp/latency" ||
    echo "scrape failed" >&2
  sleep 1
done
cpu1=$(cpu_ticks)
curl -sf -o "$tmp/last" "$url"
cycles1=$(cycles_of "$tmp/last")
rss_kb=$(status_kb VmRSS)
hwm_kb=$(status_kb VmHWM)
threads=$(status_kb Threads)
# Total CPU since start, ticks included.
cpu_total=$(cpu_ticks)

series=$(grep -vc '^#' "$tmp/last")
bytes=$(wc -c <"$tmp/last")
domains=$(grep -c '^memcoord_domain_actual_bytes{' "$tmp/last" || true)
cycle_sum=$(awk '$1 == "memcoord_tick_duration_seconds_sum" {print $2}' "$tmp/last")
cycle_count=$(awk '$1 == "memcoord_tick_duration_seconds_count" {print $2}' "$tmp/last")
actions=$(awk '/^memcoord_balloon_actions_total\{/ {s += $2} END {print s + 0}' "$tmp/last")

awk -v guests="$guests" -v domains="$domains" -v duration="$duration" \
    -v rss="$rss_kb" -v hwm="$hwm_kb" -v threads="$threads" -v hz="$hz" \
    -v cpu0="$cpu0" -v cpu1="$cpu1" -v cpu_total="$cpu_total" \
    -v c0="$cycles0" -v c1="$cycles1" -v csum="$cycle_sum" -v ccount="$cycle_count" \
    -v series="$series" -v bytes="$bytes" -v actions="$actions" '
  BEGIN {
    ticks = c1 - c0
    printf "daemon: %d guests (%d exported), adaptive, interval 1 s, %d s of scrapes\n", guests, domains, duration
    printf "resident memory: VmRSS %.1f MB, VmHWM (peak) %.1f MB, %d threads\n", rss / 1024, hwm / 1024, threads
    if (ticks > 0) {
      printf "cpu per tick: %.2f ms (utime+stime %.2f s over %d ticks; %.1f%% of one core)\n", \
        (cpu1 - cpu0) / hz * 1000 / ticks, (cpu1 - cpu0) / hz, ticks, (cpu1 - cpu0) / hz / duration * 100
    } else {
      printf "cpu per tick: no tick counted\n"
    }
    printf "cpu since start (loading the scenario included): %.2f s over %d ticks\n", cpu_total / hz, c1
    if (ccount > 0) printf "tick time (memcoord_tick_duration_seconds): mean %.2f ms over %d ticks\n", csum / ccount * 1000, ccount
    printf "balloon actions so far: %d\n", actions
    printf "scrape: %d series, %.0f KB\n", series, bytes / 1024
  }'
sort -n "$tmp/latency" | awk '
  { v[NR] = $1 }
  END {
    if (NR == 0) { print "scrape latency: no scrape"; exit }
    printf "scrape latency: median %.2f ms, max %.2f ms over %d scrapes\n", v[int((NR + 1) / 2)] * 1000, v[NR] * 1000, NR
  }'

status=0
if [[ -z $cycles1 || $cycles1 == "$cycles0" ]]; then
  echo "FAIL: the daemon counted no tick while it was scraped" >&2
  status=1
fi
if [[ -n $max_rss_mb ]]; then
  if awk -v hwm="$hwm_kb" -v max="$max_rss_mb" 'BEGIN { exit !(hwm / 1024 >= max) }'; then
    echo "FAIL: VmHWM $((hwm_kb / 1024)) MB is not under $max_rss_mb MB" >&2
    status=1
  else
    echo "target: resident memory (peak) under $max_rss_mb MB: met"
  fi
fi
exit $status

#!/usr/bin/env bash
# Load on /metrics while the loop runs: the daemon on a simulated host
# (interval 0.1 s, policy adaptive), first idle, then wrk with 64 connections
# for SECONDS. Prints requests/s, failed requests, the tick duration p99 idle
# and under load (from the memcoord_tick_duration_seconds histogram,
# interpolated within buckets like PromQL's histogram_quantile) and the
# daemon's RSS before and after. Fails when a request failed (non-2xx or a
# socket error, timeouts included), when the loaded p99 is above twice the
# idle one (ticks within the histogram's first bucket count as that bound),
# when the loop missed ticks, or when RSS grew by more than 8 MiB.
# The short interval gives ~150 idle and ~300 loaded ticks: at 0.5 s a window
# holds 30-60 ticks, its p99 is its slowest tick, and one tick in the next
# histogram bucket (they are 2-2.5x apart) decides the comparison.
# HOST is a scenario file, or a number of guests for a generated host (mixed
# idle, allocating and caching guests; 200 by default, ~200 KB per scrape).
# Usage: load_metrics.sh BINARY [HOST=200] [SECONDS=30] [CONNECTIONS=64]
set -uo pipefail
bin=$1
host=${2:-200}
seconds=${3:-30}
connections=${4:-64}
interval=${MEMCOORD_LOAD_INTERVAL:-0.1}
command -v wrk >/dev/null || { echo "SKIP: needs wrk"; exit 77; }
# shellcheck source=tests/daemon_harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/../daemon_harness.sh"

if [[ $host =~ ^[0-9]+$ ]]; then
  scenario=$tmp/load-$host.yaml
  python3 - "$host" >"$scenario" <<'PY'
import sys
n = int(sys.argv[1])
print(f"name: load-{n}\nduration_s: 86400\ninterval_s: 1")
print(f"host: {{total_mib: {n * 1024 + 4096}, host_used_mib: 2048}}")
print("defaults: {max_mib: 1536, start_mib: 512, base_used_mib: 64, balloon_rate_mib_s: 200}")
print("guests:")
for i in range(n):
    kind = i % 4
    if kind == 0:
        print(f"  - {{name: g{i:04d}}}")
    elif kind == 1:
        print(f"  - {{name: g{i:04d}, start_mib: 1024}}")
    elif kind == 2:
        print(f"  - name: g{i:04d}\n    workload:\n"
              f"      - {{at_s: {i % 60}, op: alloc, mib: 700, rate_mib_s: 5}}\n"
              f"      - {{at_s: {200 + i % 60}, op: free_all}}")
    else:
        print(f"  - name: g{i:04d}\n    workload:\n"
              f"      - {{at_s: {i % 90}, op: cache, mib: 600, rate_mib_s: 10}}")
PY
else
  scenario=$host
fi

# With two or more CPUs the load generator gets its own: the test is about
# what HTTP load does to the daemon (its HTTP threads against its tick
# thread), not about wrk taking the daemon's CPU.
cpus=$(nproc)
pin_daemon=
pin_wrk=
wrk_threads=2
if command -v taskset >/dev/null && [[ $cpus -ge 2 ]]; then
  pin_daemon="taskset -c 0"
  pin_wrk="taskset -c 1-$((cpus - 1))"
  wrk_threads=$((cpus - 1 < 4 ? cpus - 1 : 4))
fi
port=$(free_port)
url="http://127.0.0.1:$port/metrics"
# wrk's connections all come from one address: room for every one of them
# (web.max_connections_per_peer is 32 by default).
cat >"$tmp/mc.yaml" <<YAML
web: {max_connections: $((connections + 16)), max_connections_per_peer: $((connections + 16))}
YAML
$pin_daemon "$bin" --config "$tmp/mc.yaml" --connect "sim:$scenario" --policy adaptive \
  --interval "$interval" --listen "127.0.0.1:$port" --log-level warn >"$tmp/log" 2>&1 &
pid=$!
for _ in $(seq 100); do
  curl -sf -o /dev/null "$url" && break
  sleep 0.1
done
curl -sf -o /dev/null "$url" || { echo "FAIL daemon did not serve"; cat "$tmp/log"; exit 1; }

scrape() { curl -sf "$url" | grep -E '^memcoord_tick(s_total|_duration_seconds_bucket)' >"$1"; }
rss_kib() { awk '/^VmRSS/{print $2}' /proc/"$pid"/status; }

sleep 2  # first ticks, first scrapes: allocations that happen once
scrape "$tmp/s0"
rss0=$(rss_kib)
idle=$(python3 -c "print(max(10, $seconds // 2))")
sleep "$idle"
scrape "$tmp/s1"
$pin_wrk wrk -t"$wrk_threads" -c"$connections" -d"${seconds}s" --timeout 5s --latency "$url" >"$tmp/wrk" 2>&1
wrk_rc=$?
scrape "$tmp/s2"
sleep 1
rss1=$(rss_kib)
kill -0 "$pid" 2>/dev/null && alive=1 || alive=0

python3 - "$tmp" "$wrk_rc" "$rss0" "$rss1" "$alive" "$seconds" "$idle" "$interval" "$connections" "$host" <<'PY'
import re, sys
tmp, wrk_rc, rss0, rss1, alive = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
seconds, idle, interval, conns = float(sys.argv[6]), float(sys.argv[7]), float(sys.argv[8]), int(sys.argv[9])

def read(name):
    buckets, cycles = {}, 0.0
    for line in open(f"{tmp}/{name}"):
        m = re.match(r'memcoord_tick_duration_seconds_bucket\{le="([^"]+)"\} (\S+)', line)
        if m:
            buckets[float(m.group(1))] = float(m.group(2))
        elif line.startswith("memcoord_ticks_total "):
            cycles = float(line.split()[1])
    return buckets, cycles

def p99(a, b):
    """histogram_quantile(0.99) over the ticks between scrapes a and b."""
    les = sorted(b[0])
    cum = [b[0][le] - a[0].get(le, 0) for le in les]
    total = cum[-1]
    if total <= 0:
        return None, 0
    rank = 0.99 * total
    prev_le, prev_c = 0.0, 0.0
    for le, c in zip(les, cum):
        if c >= rank:
            if le == float("inf"):
                return prev_le, total
            return prev_le + (le - prev_le) * (rank - prev_c) / max(c - prev_c, 1e-12), total
        prev_le, prev_c = le, c
    return les[-1], total

s0, s1, s2 = read("s0"), read("s1"), read("s2")
idle_p99, idle_ticks = p99(s0, s1)
load_p99, load_ticks = p99(s1, s2)
wrk = open(f"{tmp}/wrk").read()
def num(pattern, default=0.0):
    m = re.search(pattern, wrk)
    return float(m.group(1)) if m else default
rps = num(r"Requests/sec:\s+([\d.]+)")
total = num(r"(\d+) requests in")
non2xx = num(r"Non-2xx or 3xx responses: (\d+)")
sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", wrk)
sock_errors = sum(int(x) for x in sock.groups()) if sock else 0
lat99 = re.search(r"\s99%\s+(\S+)", wrk)

print(f"host: {sys.argv[10]}")
print(f"wrk: {conns} connections, {seconds:.0f} s: {total:.0f} requests, {rps:.0f} requests/s, "
      f"latency p99 {lat99.group(1) if lat99 else '?'}")
print(f"failed requests: {non2xx:.0f} non-2xx, {sock_errors} socket errors")
print(f"tick p99: idle {idle_p99*1000:.2f} ms ({idle_ticks:.0f} ticks), "
      f"under load {load_p99*1000:.2f} ms ({load_ticks:.0f} ticks)")
print(f"RSS: {rss0/1024:.1f} MiB before, {rss1/1024:.1f} MiB after")

fail = []
if not alive: fail.append("the daemon died")
if wrk_rc != 0 or total <= 0: fail.append(f"wrk did not run (rc {wrk_rc}):\n{wrk}")
if non2xx or sock_errors: fail.append("failed requests:\n" + wrk)
floor = min(s2[0]) if s2[0] else 0.001  # below the first bucket nothing is measured
if idle_p99 is None or load_p99 is None:
    fail.append("no ticks in a window")
elif max(load_p99, floor) > 2 * max(idle_p99, floor):
    fail.append(f"tick p99 under load {load_p99*1000:.2f} ms is above twice idle {idle_p99*1000:.2f} ms")
expected = seconds / interval
if load_ticks < 0.8 * expected:
    fail.append(f"the loop missed ticks under load: {load_ticks:.0f} of ~{expected:.0f}")
if rss1 - rss0 > 8 * 1024:
    fail.append(f"RSS grew by {(rss1 - rss0)/1024:.1f} MiB")
for f in fail:
    print("FAIL " + f)
sys.exit(1 if fail else 0)
PY
rc=$?
[[ $rc -eq 0 ]] || sed 's/^/  | /' "$tmp/log"
exit $rc

#!/usr/bin/env bash
# Scrapes that reuse a connection (as Prometheus does) answer as fast as the
# first one. With Nagle's algorithm on the daemon's socket, a response
# written as headers then body waits for the client's delayed ACK before its
# last segment leaves: ~40 ms per keep-alive scrape of a small page, and ~90
# requests/s for four HTTP threads. Fails when the median of scrapes 2-6 on
# one connection takes more than 20 ms.
# Usage: keepalive_latency_test.sh BINARY SCENARIO
set -uo pipefail
bin=$1
scenario=$2
# shellcheck source=tests/daemon_harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/../daemon_harness.sh"
port=$(free_port)
url="http://127.0.0.1:$port/metrics"
"$bin" --connect "sim:$scenario" --interval 0.5 --listen "127.0.0.1:$port" --log-level warn \
  >"$tmp/log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -sf -o /dev/null "$url" && break; sleep 0.1; done
args=()
for _ in $(seq 6); do args+=(-o /dev/null "$url"); done
times=$(curl -sf -w '%{time_total}\n' "${args[@]}")
echo "scrape times on one connection (s):" $times
python3 - $times <<'PY'
import statistics, sys
t = [float(x) for x in sys.argv[1:]]
if len(t) != 6:
    sys.exit(f"FAIL expected 6 scrapes, got {len(t)}")
median = statistics.median(t[1:])
print(f"first {t[0]*1000:.1f} ms, keep-alive median {median*1000:.1f} ms")
if median > 0.020:
    sys.exit("FAIL keep-alive scrapes take more than 20 ms: Nagle's algorithm delays the "
             "last segment of each response (CivetWeb option tcp_nodelay)")
PY

#!/bin/bash
# Renders what the Grafana dashboard shows, from real data, without Grafana:
# memory_coordinator runs on a scenario in real time, a real Prometheus
# scrapes it every second, the main panels' queries from
# grafana/memory_coordinator.json are evaluated over the run through
# Prometheus's HTTP API, and gnuplot draws them into a PNG.
#
# Usage (from the source tree, after building):
#   tests/deploy/render_dashboard_preview.sh [BINARY] [OUTPUT.png]
# Defaults: ./memory_coordinator (make all) or build/memory_coordinator,
# docs/dashboard.png. Environment: SCENARIO (default
# tests/scenarios/classic-1-one-busy.yaml), POLICY (seed), DURATION (180 s).
# Needs python3, prometheus and gnuplot (gnuplot-nox).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
binary=${1:-}
if [ -z "$binary" ]; then
  for candidate in "$src/memory_coordinator" "$src/build/memory_coordinator"; do
    if [ -x "$candidate" ]; then binary=$candidate; break; fi
  done
fi
[ -n "$binary" ] && [ -x "$binary" ] || { echo "no memory_coordinator binary; pass its path" >&2; exit 2; }
out=$(realpath -m "${2:-$src/docs/dashboard.png}")
for tool in python3 prometheus gnuplot; do
  command -v "$tool" >/dev/null || { echo "$tool not found" >&2; exit 2; }
done
mkdir -p "$(dirname "$out")"
data=$(mktemp -d /tmp/memcoord-preview-data.XXXXXX)
trap 'rm -rf "$data"' EXIT

python3 "$here/dashboard_preview_data.py" \
  --dashboard "$src/grafana/memory_coordinator.json" \
  --daemon "$binary" \
  --scenario "${SCENARIO:-$src/tests/scenarios/classic-1-one-busy.yaml}" \
  --policy "${POLICY:-seed}" --duration "${DURATION:-180}" \
  --outdir "$data" --png "$out"
gnuplot "$data/dashboard.gp"
echo "wrote $out"

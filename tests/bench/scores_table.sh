#!/bin/sh
# Prints the README's policy score table: every public scenario under every
# policy, as Markdown, with the command that produced the numbers.
#
#   tests/bench/scores_table.sh [BINARY]
#
# BINARY defaults to ./memory_coordinator (what `make all` leaves in the
# repository root), else build/memory_coordinator. Run it from anywhere; it
# works in the repository root. Needs jq. The simulator is deterministic, so
# the same tree gives the same table.
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

bin=${1:-}
if [ -z "$bin" ]; then
  for candidate in ./memory_coordinator ./build/memory_coordinator; do
    if [ -x "$candidate" ]; then
      bin=$candidate
      break
    fi
  done
fi
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
  echo "scores_table.sh: no memory_coordinator binary; run 'make all' or pass its path" >&2
  exit 2
fi
command -v jq >/dev/null 2>&1 || {
  echo "scores_table.sh: jq is required" >&2
  exit 2
}

# The glob is expanded here, in sorted order, exactly as a shell would.
json=$("$bin" simulate tests/scenarios/*.yaml --policy all --json)

echo "Made by \`tests/bench/scores_table.sh\`, which runs"
echo "\`memory_coordinator simulate tests/scenarios/*.yaml --policy all --json\`."
echo "Lower is better for every column but host_free_mib; waste_mib and"
echo "host_free_mib are means over the run."
echo
echo "| scenario | policy | oom_kills | pressure_s | host_low_s | waste_mib | host_free_mib | actions | moved_mib |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "$json" | jq -r '
  def f1: (. * 10 | round) / 10 | tostring | if test("\\.") then . else . + ".0" end;
  .results[] |
  (if .policy == "adaptive" then "**adaptive**" else .policy end) as $p |
  "| \(.scenario) | \($p) | \(.scores.oom_kills) | \(.scores.pressure_s | f1) | \(.scores.host_low_s | f1) | \(.scores.waste_mib | f1) | \(.scores.host_free_mib | f1) | \(.scores.actions) | \(.scores.moved_mib | f1) |"'

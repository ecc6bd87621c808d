#!/bin/sh
# Prints the README's policy score tables: every public scenario under every
# policy `simulate` runs (the four daemon policies and the oracle), as
# Markdown, at the daemon's default interval (2 s) and at 1 s, each with the
# command that produced its numbers.
#
#   tests/bench/scores_table.sh [BINARY]
#
# BINARY defaults to ./memory_coordinator (what `make all` leaves in the
# repository root), else build/memory_coordinator. Run it from anywhere; it
# works in the repository root. Needs jq. The simulator is deterministic, so
# the same tree gives the same tables.
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

# table INTERVAL: one Markdown table of every scenario at that interval.
table() {
  # The glob is expanded here, in sorted order, exactly as a shell would.
  json=$("$bin" simulate tests/scenarios/*.yaml --policy all --interval "$1" --json)
  echo "At $1 s: \`memory_coordinator simulate tests/scenarios/*.yaml --policy all --interval $1 --json\`"
  echo
  echo "| scenario | policy | oom_kills | vs oracle | pressure_s | vs oracle | host_low_s | vs oracle | waste_mib | vs oracle | host_free_mib | vs oracle | actions | vs oracle | moved_mib | vs oracle |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  printf '%s\n' "$json" | jq -r '
    def f1: (. * 10 | round) / 10 | tostring | if test("\\.") then . else . + ".0" end;
    def signed(f): if . > 0 then "+" + (. | f) elif . < 0 then "-" + (-. | f) else (. | f) end;
    def i0: tostring;
    def keys: [["oom_kills", "i"], ["pressure_s", "f"], ["host_low_s", "f"],
               ["waste_mib", "f"], ["host_free_mib", "f"], ["actions", "i"],
               ["moved_mib", "f"]];
    def fmt($kind): if $kind == "i" then i0 else f1 end;
    # Differences of values as printed, so that a row reads consistently.
    def rounded($kind): if $kind == "i" then . else (. * 10 | round) / 10 end;
    .results as $all |
    $all[] | . as $r |
    ($all | map(select(.scenario == $r.scenario and .policy == "oracle")) | first) as $o |
    (if .policy == "adaptive" then "**adaptive**" else .policy end) as $p |
    [keys[] | .[0] as $k | .[1] as $kind |
      ($r.scores[$k] | fmt($kind)),
      (if $r.policy == "adaptive" and $o != null
       then (($r.scores[$k] | rounded($kind)) - ($o.scores[$k] | rounded($kind)))
            | signed(fmt($kind))
       else "" end)] as $cells |
    "| \(.scenario) | \($p) | " + ($cells | join(" | ")) + " |"'
}

echo "Made by \`tests/bench/scores_table.sh\`, at the daemon's default interval"
echo "(2 s) and at 1 s, whatever interval each scenario file gives (\`--interval\`"
echo "overrides it). Lower is better for every column but"
echo "host_free_mib; waste_mib and host_free_mib are means over the run. The"
echo "oracle is clairvoyant (it reads each scenario's future workload) and runs"
echo "only in the simulator: it is the lower bound the others are measured"
echo "against. Each \"vs oracle\" column, on the adaptive row, is adaptive's"
echo "score minus the oracle's on the same scenario: + means adaptive has that"
echo "much more (worse, except for host_free_mib), 0 that it matches the oracle."
echo
table 2
echo
table 1

#!/bin/sh
# tests/sim/make_scenarios.py writes files the simulator loads, and the same
# seed gives the same bytes: two seeds, one file per class, every policy.
#
#   tests/sim/make_scenarios_test.sh BINARY [PYTHON]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:?usage: make_scenarios_test.sh BINARY [PYTHON]}
py=${2:-python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for seed in 1 2; do
  "$py" "$here/make_scenarios.py" --seed "$seed" --count 1 --out "$tmp/a$seed"
  "$py" "$here/make_scenarios.py" --seed "$seed" --count 1 --out "$tmp/b$seed"
  diff -r "$tmp/a$seed" "$tmp/b$seed"
  "$bin" simulate "$tmp/a$seed"/*.yaml --policy all > "$tmp/scores$seed"
done
# One class alone gives the same file as in the full set.
"$py" "$here/make_scenarios.py" --seed 1 --count 1 --out "$tmp/one" --class fleet
cmp "$tmp/one/fleet-1-1.yaml" "$tmp/a1/fleet-1-1.yaml"
echo "make_scenarios: $(ls "$tmp/a1" | wc -l) classes, files load and are reproducible"

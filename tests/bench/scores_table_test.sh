#!/bin/sh
# The README's policy score table is what tests/bench/scores_table.sh prints
# now: fails with the difference when a policy or scenario change left the
# README behind (regenerate it with the script).
#
#   tests/bench/scores_table_test.sh BINARY
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:?usage: scores_table_test.sh BINARY}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$root/tests/bench/scores_table.sh" "$bin" | grep -v '^$' > "$tmp/now"
# From the heading's next line to the paragraph after the table.
sed -n '/^### Scores of the policies on the public scenarios$/,/^The adaptive policy has/p' \
  "$root/README.md" | sed '1d;$d' | grep -v '^$' > "$tmp/readme"
[ -s "$tmp/readme" ] || { echo "no score table found in README.md" >&2; exit 1; }
if ! diff -u "$tmp/readme" "$tmp/now"; then
  echo "README.md's score table is out of date: run tests/bench/scores_table.sh and paste its output" >&2
  exit 1
fi
echo "README score table matches scores_table.sh ($(grep -c '^| ' "$tmp/now") rows)"

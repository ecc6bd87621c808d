#!/bin/bash
# The manual page memory_coordinator(8), made by help2man from the binary's
# --help-all, lists every option --help-all lists (the daemon's and the
# simulate subcommand's), has the sections the include file adds, and
# renders without a warning from man. The option check is also run on a
# help text with one option more than the page, which it must refuse.
#
# Usage: man_page_test.sh MAN_PAGE BINARY
# Exit status: 0 pass, 1 fail.
set -u
page=$1
binary=$2
failures=0
ok() { echo "ok   $*"; }
fail() { echo "FAIL $*"; failures=$((failures + 1)); }
scratch=$(mktemp -d /tmp/memcoord-man-test.XXXXXX)
trap 'rm -rf "$scratch"' EXIT

[ -s "$page" ] || { echo "FAIL no manual page at $page (is help2man installed?)"; exit 1; }
# The page's text with roff's escaped minus signs as plain ones and no font
# changes.
sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\f(..//g' "$page" >"$scratch/page"

options_of() {  # options_of HELP_FILE: every -x and --long option, one a line
  grep -oE '(^|[ ,])--?[a-zA-Z][a-zA-Z-]*' "$1" | sed 's/^[ ,]*//' | sort -u
}
missing_from_page() {  # missing_from_page HELP_FILE: prints what the page lacks
  local opt
  while IFS= read -r opt; do
    grep -qE -- "(^|[^a-zA-Z-])${opt}([^a-zA-Z-]|$)" "$scratch/page" || echo "$opt"
  done < <(options_of "$1")
}

"$binary" --help-all >"$scratch/help" 2>&1
count=$(options_of "$scratch/help" | wc -l)
if [ "$count" -lt 10 ]; then
  fail "--help-all lists only $count options: $(options_of "$scratch/help" | tr '\n' ' ')"
fi
missing=$(missing_from_page "$scratch/help")
if [ -z "$missing" ]; then
  ok "the page lists all $count options of --help-all"
else
  fail "the page lacks: $(tr '\n' ' ' <<<"$missing")"
fi
cp "$scratch/help" "$scratch/help-more"
echo "  --no-such-option            An option the page does not have" >>"$scratch/help-more"
if [ "$(missing_from_page "$scratch/help-more")" = --no-such-option ]; then
  ok "the check refuses a help text with an option the page lacks"
else
  fail "the check does not notice --no-such-option missing from the page"
fi

for section in NAME SYNOPSIS DESCRIPTION OPTIONS FILES SIGNALS ENVIRONMENT "EXIT STATUS" "SEE ALSO"; do
  if grep -qx "\.SH \"\?$section\"\?" "$scratch/page"; then
    ok "section $section"
  else
    fail "no section $section"
  fi
done
if grep -q 'NOTIFY_SOCKET' "$scratch/page"; then ok "ENVIRONMENT names NOTIFY_SOCKET"; else fail "NOTIFY_SOCKET not described"; fi

if command -v man >/dev/null; then
  warnings=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l "$page" 2>&1 >/dev/null)
  if [ -z "$warnings" ]; then ok "man --warnings renders the page silently"; else fail "man --warnings: $warnings"; fi
fi

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo PASS

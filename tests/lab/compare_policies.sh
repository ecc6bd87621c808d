#!/usr/bin/env bash
# compare_policies.sh: the lab benchmark of the policies. Runs the three classic test
# cases (tests/lab/lab_case.py classic1..3) once with each policy on the same
# four lab guests P-1..P-4 (brought up once; before each run the driver stops
# every memhog and sets the balloons back to the start size), then prints the
# scores side by side:
#   oom_kills   guest workloads OOM-killed (from the guest consoles)
#   pressure_s  guest-seconds with usable < max(64 MiB, 5 % of actual)
#   waste_mib   mean over time of the sum over guests of max(0, unused - 300 MiB)
#   actions     balloon commands sent (memcoord_balloon_actions_total)
#   moved_mib   memory moved by them (memcoord_balloon_moved_bytes_total)
#   duration_s  length of the run scored (a run whose workloads were OOM-killed
#               ends sooner: it does not wait for them to reach their targets)
# measured from the per-second samples of each run. Each run also leaves its
# timeline.csv, timeline.png and daemon.log in OUT/CASE-POLICY/.
#
# About 10 minutes on 2 cores (six runs of 1 to 2 minutes and one bring-up), so
# it is not a CTest test.
#
# Usage (root): compare_policies.sh [--policies "seed adaptive"] [--cases
#               "classic1 classic2 classic3"] [--prefix P] [--bin PATH]
#               [--out DIR] [--keep]
#   --policies   policies to compare (default "seed adaptive")
#   --cases      cases to run (default "classic1 classic2 classic3")
#   --prefix P   guest name prefix (default ltp)
#   --bin PATH   memory_coordinator (default build/memory_coordinator)
#   --out DIR    results (default lab-compare)
#   --keep       leave the guests up at the end
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
lab=$here/../../deploy/lab/lab.sh
# shellcheck source=tests/lab/lab_common.sh
source "$here/lab_common.sh"
policies="seed adaptive"
cases="classic1 classic2 classic3"
prefix=ltp
bin=""
out="lab-compare"
keep=0

die() { echo "compare_policies: $*" >&2; exit 2; }

while [[ $# -gt 0 ]]; do
  case $1 in
    --policies) policies=${2:?}; shift 2 ;;
    --cases) cases=${2:?}; shift 2 ;;
    --prefix) prefix=${2:?}; shift 2 ;;
    --bin) bin=${2:?}; shift 2 ;;
    --out) out=${2:?}; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
[[ $prefix =~ ^[A-Za-z0-9_.-]+$ ]] || die "bad --prefix"
require_root
bin=$(find_bin "$bin")
mkdir -p "$out"
out=$(cd "$out" && pwd)

cleanup() { # shellcheck disable=SC2317 # run by the EXIT trap
  if [[ $keep -eq 0 ]]; then "$lab" down --prefix "$prefix" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

t0=$SECONDS
failed=0
for c in $cases; do
  for p in $policies; do
    echo "== $c with $p ($((SECONDS - t0)) s so far)"
    rc=0
    python3 "$here/lab_case.py" "$c" --policy "$p" --prefix "$prefix" --bin "$bin" \
      --out "$out/$c-$p" --keep-guests --no-assert >"$out/$c-$p.log" 2>&1 || rc=$?
    grep -E 'scores:|RESULT|ERROR' "$out/$c-$p.log" || true
    if [[ $rc -ne 0 ]]; then
      echo "compare_policies: $c with $p did not complete (rc $rc); see $out/$c-$p.log" >&2
      failed=1
    fi
  done
done

echo
echo "== lab scores ($((SECONDS - t0)) s; $(nproc) cores; command: $0 --policies \"$policies\" --cases \"$cases\")"
python3 - "$out" "$policies" "$cases" <<'EOF'
import json, os, sys
out, policies, cases = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
cols = ["oom_kills", "pressure_s", "waste_mib", "actions", "moved_mib", "duration_s"]
print("| case | policy | " + " | ".join(cols) + " |")
print("|---|---|" + "---:|" * len(cols))
for c in cases:
    for p in policies:
        f = os.path.join(out, "%s-%s" % (c, p), "scores.json")
        try:
            s = json.load(open(f))
        except (OSError, ValueError):
            print("| %s | %s | " % (c, p) + " | ".join(["-"] * len(cols)) + " |")
            continue
        print("| %s | %s | " % (c, p) + " | ".join(
            str(s.get(k, "-")) for k in cols) + " |")
EOF
exit $failed

#!/usr/bin/env bash
# Restart safety: a daemon that starts on a host whose guests sit at odd
# balloon sizes (odd_sizes.yaml) does not reset them. Its first tick sends
# exactly what the policy decides for that snapshot, within the guardrails,
# and nothing else: no guest is pushed to its maximum or its floor on start,
# and nothing is sent on the way out either.
#   1. seed policy, --once: exactly the seed algorithm's two actions
#      (vm1 1237 -> 718.5 MiB, vm2 777 -> 1295.5 MiB), vm3 and vm4 untouched.
#   2. every policy, --once: the commands sent equal the dry-run plan of the
#      same tick, no grow past a maximum, no shrink below the 256 MiB floor.
#   3. the daemon, started and stopped with SIGTERM: every command it logs is
#      a policy action; none after the stop request.
# Usage: restart_safety_test.sh BINARY SCENARIO
set -uo pipefail
bin=$1
scenario=$2
# shellcheck source=tests/daemon_harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/../daemon_harness.sh"

# "domain vm1: 1237 MiB -> 718 MiB (reclaim)" -> "vm1 1237 718 reclaim"
actions() {
  grep -oE 'domain [^ ]+: [0-9]+ MiB -> [0-9]+ MiB \([a-z-]+\)' "$1" |
    sed -E 's/domain ([^ ]+): ([0-9]+) MiB -> ([0-9]+) MiB \(([a-z-]+)\)/\1 \2 \3 \4/' | sort
}
once() {  # once POLICY LOG [--dry-run]
  "$bin" --connect "sim:$scenario" --policy "$1" --once --log-level info ${3:-} >"$2" 2>&1
}

# 1. The seed algorithm, exactly.
once seed "$tmp/seed.log" || bad "--once exits 0"
got=$(actions "$tmp/seed.log")
python3 - "$got" <<'PY' && ok || bad "seed first tick: expected vm1 -> ~718.5 and vm2 -> ~1295.5 MiB only, got: $got"
import sys
rows = [l.split() for l in sys.argv[1].splitlines() if l.strip()]
want = {"vm1": (1237, 718.5), "vm2": (777, 1295.5)}
assert sorted(r[0] for r in rows) == ["vm1", "vm2"], rows
for name, frm, to, _ in rows:
    assert int(frm) == want[name][0], (name, frm)
    assert abs(int(to) - want[name][1]) <= 1, (name, to)
PY

# 2. Every policy: sent == planned, within bounds.
max_of() { case $1 in vm1) echo 4096 ;; vm2) echo 2048 ;; vm3) echo 1500 ;; vm4) echo 3000 ;; esac; }
for policy in seed adaptive mom proxmox; do
  once "$policy" "$tmp/$policy-dry.log" --dry-run || bad "$policy --once --dry-run exits 0"
  once "$policy" "$tmp/$policy.log" || bad "$policy --once exits 0"
  planned=$(actions "$tmp/$policy-dry.log")
  sent=$(actions "$tmp/$policy.log")
  if [[ "$planned" == "$sent" ]]; then ok; else
    bad "$policy: first tick sent something else than planned"
    diff <(echo "$planned") <(echo "$sent") | sed 's/^/  | /'
  fi
  grep -q "failed" "$tmp/$policy.log" && bad "$policy: a command failed" || ok
  while read -r name from to reason; do
    [[ -z $name ]] && continue
    max=$(max_of "$name")
    if (( to > from && to > max )); then bad "$policy: $name grown past its maximum ($to > $max)"; fi
    if (( to < from && to < 256 )); then bad "$policy: $name shrunk below the floor ($to)"; fi
    # A guest at its maximum with 600 MiB unused is not starving: never grown.
    if [[ $name == vm3 ]] && (( to > from )); then bad "$policy: vm3 grown"; fi
    ok
  done <<<"$sent"
done

# 3. The daemon: commands are policy actions only, none after SIGTERM.
port=$(free_port)
"$bin" --connect "sim:$scenario" --policy seed --interval 0.5 --listen "127.0.0.1:$port" \
  >"$tmp/daemon.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
sleep 1.2
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
[[ $rc -eq 0 ]] && ok || bad "daemon exits 0 on SIGTERM (rc $rc)"
# The first tick's commands: action lines within 100 ms of the first one
# (ticks are 500 ms apart).
python3 - "$tmp/daemon.log" >"$tmp/first.log" <<'PY'
import re, sys
first = None
for line in open(sys.argv[1]):
    m = re.match(r"\S+ (\d+):(\d+):([\d.]+) .*domain [^ ]+: \d+ MiB -> ", line)
    if not m:
        continue
    t = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
    first = t if first is None else first
    if t - first < 0.1:
        print(line, end="")
PY
first=$(actions "$tmp/first.log")
[[ "$first" == "$(actions "$tmp/seed.log")" ]] && ok ||
  bad "daemon's first tick differs from --once: $first"
after_stop=$(awk '/stopping|stopped/{s=1} s && /MiB -> /' "$tmp/daemon.log")
[[ -z $after_stop ]] && ok || bad "commands after the stop request: $after_stop"
grep -qiE 'reset|maximum memory restored' "$tmp/daemon.log" && bad "daemon logs a reset" || ok

finish "$tmp"/seed.log "$tmp"/daemon.log

#!/usr/bin/env bash
# SIGHUP with a valid, then an invalid configuration, against the running
# daemon (on a simulated host), checked through its log and /metrics; then
# SIGTERM ends it within one interval.
# Usage: reload_test.sh BINARY SCENARIO
set -uo pipefail
bin=$1
scenario=$2
# shellcheck source=tests/daemon_harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/../daemon_harness.sh"

port=$(free_port)
write_config() {  # write_config DRY_RUN POLICY
  cat >"$tmp/mc.yaml" <<YAML
connect: "sim:$scenario"
interval_s: 0.5
policy: $2
dry_run: $1
web: {listen: "127.0.0.1:$port"}
YAML
}
metric() {  # metric NAME -> value of the unlabelled series
  curl -sf "http://127.0.0.1:$port/metrics" | awk -v n="$1" '$1 == n {print $2}'
}
wait_for() {  # wait_for DESCRIPTION COMMAND... (up to 10 s)
  local what=$1
  shift
  for _ in $(seq 100); do
    if "$@"; then ok; return 0; fi
    sleep 0.1
  done
  bad "$what"
  return 1
}

write_config false seed
"$bin" --config "$tmp/mc.yaml" >"$tmp/log" 2>&1 &
pid=$!
wait_for "daemon serves metrics" bash -c "curl -sf http://127.0.0.1:$port/metrics >/dev/null"
[[ $(metric memcoord_dry_run) == 0 ]] && ok || bad "dry_run starts at 0"

write_config true adaptive
kill -HUP "$pid"
wait_for "valid reload takes effect (dry_run 1)" bash -c "[[ \$(curl -sf http://127.0.0.1:$port/metrics | awk '\$1==\"memcoord_dry_run\"{print \$2}') == 1 ]]"
[[ $(metric memcoord_config_reload_success) == 1 ]] && ok || bad "reload_success 1 after a valid reload"
grep -q "configuration reloaded: policy adaptive" "$tmp/log" && ok || bad "log says the reload took effect"

printf 'interval_s: -3\npolicy: greedy\n' >"$tmp/mc.yaml"
kill -HUP "$pid"
wait_for "invalid reload is refused (reload_success 0)" bash -c "[[ \$(curl -sf http://127.0.0.1:$port/metrics | awk '\$1==\"memcoord_config_reload_success\"{print \$2}') == 0 ]]"
grep -q "reload refused" "$tmp/log" && ok || bad "log says the reload was refused"
grep -q "mc.yaml:1:" "$tmp/log" && ok || bad "the refusal names the file and line"
[[ $(metric memcoord_dry_run) == 1 ]] && ok || bad "the old configuration keeps running"
c1=$(metric memcoord_ticks_total)
sleep 1.2
c2=$(metric memcoord_ticks_total)
python3 -c "import sys; sys.exit(0 if float('$c2') > float('$c1') else 1)" && ok || bad "ticks go on after a refused reload ($c1 -> $c2)"

start=$(date +%s.%N)
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
elapsed=$(python3 -c "print($(date +%s.%N) - $start)")
[[ $rc -eq 0 ]] && ok || bad "exit code 0 on SIGTERM, got $rc"
python3 -c "import sys; sys.exit(0 if $elapsed < 0.5 else 1)" && ok || bad "SIGTERM ended it within one interval (took ${elapsed}s)"
grep -q "stopped" "$tmp/log" && ok || bad "log says stopped"

finish "$tmp/log"

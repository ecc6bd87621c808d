#!/usr/bin/env bash
# The command line as an operator meets it: exit codes, one-line errors,
# deterministic simulate output, --check-config, --once on the simulator.
# Usage: cli_test.sh BINARY SCENARIO_DIR
set -uo pipefail
bin=$1
scenarios=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0

check() {  # check NAME EXPECTED_RC COMMAND... ; output in $tmp/out
  local name=$1 want=$2
  shift 2
  "$@" >"$tmp/out" 2>&1
  local rc=$?
  if [[ $rc -eq $want ]]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL $name: exit $rc, want $want"
    sed 's/^/  | /' "$tmp/out"
  fi
}
expect_output() {  # expect_output NAME REGEX
  if grep -Eq -- "$2" "$tmp/out"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL $1: output does not match /$2/"
    sed 's/^/  | /' "$tmp/out"
  fi
}
expect_lines() {  # expect_lines NAME N
  local n
  n=$(wc -l <"$tmp/out")
  if [[ $n -eq $2 ]]; then passed=$((passed + 1)); else
    failed=$((failed + 1)); echo "FAIL $1: $n lines, want $2"; sed 's/^/  | /' "$tmp/out"; fi
}

check help 0 "$bin" --help
expect_output help "simulate"
check version 0 "$bin" --version
expect_output version "^memory_coordinator [0-9]+\.[0-9]+\.[0-9]+$"

check unknown-flag 2 "$bin" --bogus
expect_lines unknown-flag 1
expect_output unknown-flag "--bogus"
check bad-interval 2 "$bin" -- -1
expect_lines bad-interval 1
expect_output bad-interval "seconds > 0, got '-1'"
check bad-interval-flag 2 "$bin" --interval zero
expect_lines bad-interval-flag 1
check intervals-disagree 2 "$bin" 2 --interval 3
check bad-policy 2 "$bin" --check-config --policy greedy
expect_output bad-policy "greedy"

# The oracle is clairvoyant: simulate runs it, the daemon refuses it.
check oracle-daemon 2 "$bin" --policy oracle --once --connect "sim:$scenarios/classic-1-one-busy.yaml"
expect_lines oracle-daemon 1
expect_output oracle-daemon "oracle' is clairvoyant.*only under .memory_coordinator simulate"
check oracle-check-config 2 "$bin" --check-config --policy oracle
expect_output oracle-check-config "clairvoyant.*simulate"
printf 'policy: oracle\n' >"$tmp/oracle.yaml"
check oracle-config-file 2 "$bin" --check-config --config "$tmp/oracle.yaml"
expect_lines oracle-config-file 1
expect_output oracle-config-file "oracle.yaml:1:[0-9]+: policy: .*clairvoyant.*simulate"

check check-config 0 "$bin" --check-config --policy seed --interval 5
expect_output check-config '^interval_s: 5$'
expect_output check-config '^policy: "?seed"?$'
printf 'interval_s: 1\nthresholds: {wast_mib: 3}\n' >"$tmp/bad.yaml"
check bad-config 2 "$bin" --check-config --config "$tmp/bad.yaml"
expect_output bad-config "bad.yaml:2:[0-9]+: thresholds.wast_mib: .*waste_mib"

printf 'name: x\nduration_s: 10\nguests:\n  - {name: a, start_mib: 4096}\n' >"$tmp/bad-scenario.yaml"
check bad-scenario 2 "$bin" simulate "$tmp/bad-scenario.yaml"
expect_lines bad-scenario 1
expect_output bad-scenario "bad-scenario.yaml:4:[0-9]+: guests\[0\]\.start_mib"
check missing-scenario 2 "$bin" simulate "$tmp/none.yaml"

check simulate-seed 0 "$bin" simulate "$scenarios"/classic-*.yaml --policy seed
expect_output simulate-seed "^scenario +policy +oom_kills +pressure_s +host_low_s +waste_mib +host_free_mib +actions +moved_mib"
expect_lines simulate-seed 4
cp "$tmp/out" "$tmp/first"
"$bin" simulate "$scenarios"/classic-*.yaml --policy seed >"$tmp/second" 2>&1
if cmp -s "$tmp/first" "$tmp/second"; then passed=$((passed + 1)); else
  failed=$((failed + 1)); echo "FAIL simulate-deterministic: two runs differ"; fi
check simulate-all 0 "$bin" simulate "$scenarios"/classic-1-one-busy.yaml
expect_lines simulate-all 6
expect_output simulate-all "^classic-1-one-busy +oracle +0 +0\.0 +0\.0 "
check simulate-oracle 0 "$bin" simulate "$scenarios"/classic-1-one-busy.yaml --policy oracle --json
expect_output simulate-oracle '"policy": "oracle"'
check simulate-unknown-policy 2 "$bin" simulate "$scenarios"/classic-1-one-busy.yaml --policy greedy
expect_lines simulate-unknown-policy 1
expect_output simulate-unknown-policy "unknown policy 'greedy'.*oracle"
check simulate-interval 0 "$bin" simulate "$scenarios"/classic-1-one-busy.yaml --policy seed --interval 5 --csv "$tmp/csv5"
if [[ "$(sed -n 2p "$tmp/csv5/classic-1-one-busy-seed.csv" | cut -d, -f1),$(sed -n 6p "$tmp/csv5/classic-1-one-busy-seed.csv" | cut -d, -f1)" == "0,5" ]]; then
  passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL simulate-interval: ticks are not 5 s apart"; fi
check simulate-interval-zero 2 "$bin" simulate "$scenarios"/classic-1-one-busy.yaml --interval 0
expect_lines simulate-interval-zero 1
expect_output simulate-interval-zero "--interval: must be a number of seconds > 0, got '0'"
check simulate-interval-word 2 "$bin" simulate "$scenarios"/classic-1-one-busy.yaml --interval fast
expect_output simulate-interval-word "seconds > 0, got 'fast'"
check simulate-help 0 "$bin" simulate --help
expect_output simulate-help "--interval"
expect_output simulate-help "oracle"
check simulate-json 0 "$bin" simulate "$scenarios"/classic-1-one-busy.yaml --policy seed --json
expect_output simulate-json '"oom_kills": 0'
check simulate-csv 0 "$bin" simulate "$scenarios"/classic-1-one-busy.yaml --policy seed --csv "$tmp/csv"
if [[ -s "$tmp/csv/classic-1-one-busy-seed.csv" ]] &&
   head -1 "$tmp/csv/classic-1-one-busy-seed.csv" | grep -q '^time_s,domain,actual_mib'; then
  passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL simulate-csv: no timeline"; fi

check once 0 "$bin" --once --policy seed --connect "sim:$scenarios/classic-1-one-busy.yaml"
expect_output once "domain vm1: 512 MiB -> [0-9]+ MiB \(reclaim\)"
check once-dry-run 0 "$bin" --once --dry-run --policy seed --connect "sim:$scenarios/classic-1-one-busy.yaml"
expect_output once-dry-run "dry-run, not sent"

# Under journald (standard error is the stream JOURNAL_STREAM names) every
# line carries its priority prefix and no timestamp; anywhere else, a
# timestamp and the level.
: >"$tmp/journal"
stream=$(stat -c '%d:%i' "$tmp/journal")
JOURNAL_STREAM=$stream "$bin" --once --policy seed --connect "sim:$scenarios/classic-1-one-busy.yaml" 2>>"$tmp/journal" >/dev/null
cp "$tmp/journal" "$tmp/out"
expect_output journal-priority '^<6>memory_coordinator [0-9.]+ starting'
expect_output journal-action '^<6>domain vm1: 512 MiB -> [0-9]+ MiB \(reclaim\)$'
if grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2} ' "$tmp/journal"; then
  failed=$((failed + 1)); echo "FAIL journal: a timestamp under journald"; else passed=$((passed + 1)); fi
JOURNAL_STREAM=1:1 "$bin" --once --policy seed --connect "sim:$scenarios/classic-1-one-busy.yaml" >"$tmp/out" 2>&1
expect_output journal-other-stream '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:.]+ info memory_coordinator'

# The installed example configuration changes nothing: with it the daemon
# runs exactly as with no file at all.
example=$(dirname "$scenarios")/../deploy/config/memory_coordinator.yaml
: >"$tmp/empty.yaml"
check example-config 0 "$bin" --check-config --config "$example"
cp "$tmp/out" "$tmp/example.out"
check empty-config 0 "$bin" --check-config --config "$tmp/empty.yaml"
if diff -u "$tmp/out" "$tmp/example.out" >"$tmp/diff"; then
  passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL example-config differs from the defaults:"; cat "$tmp/diff"; fi

# A tick that cannot sample did nothing: --once fails. libvirt's test
# driver has no node memory statistics, so every sample fails on it.
check once-sample-fails 1 "$bin" --once --connect test:///default
expect_output once-sample-fails "could not sample the hypervisor: .*virNodeGetMemoryStats"

# The listen address is configuration: a bad one is a usage error, found by
# --check-config too, whether it comes from a flag or the file.
check listen-bad 2 "$bin" --listen foo --connect test:///default
expect_lines listen-bad 1
expect_output listen-bad 'web.listen "foo"'
check listen-bad-check 2 "$bin" --check-config --listen foo
check listen-port-zero 2 "$bin" --check-config --listen 127.0.0.1:0
check listen-ipv6-bare 2 "$bin" --check-config --listen ::1:9741
expect_output listen-ipv6-bare "brackets"
check listen-bare-port 0 "$bin" --check-config --listen 9741
printf 'web: {listen: "[::1"}\n' >"$tmp/listen.yaml"
check listen-bad-file 2 "$bin" --check-config --config "$tmp/listen.yaml"
expect_output listen-bad-file "listen"

# Files that web: names are configuration: a missing one is found by
# --check-config and stops a start with exit 2 (a restart cannot mend it).
printf 'web:\n  tls_cert_file: %s/no-cert.pem\n  tls_key_file: %s/no-key.pem\n' "$tmp" "$tmp" >"$tmp/tls.yaml"
check tls-missing-check 2 "$bin" --check-config --config "$tmp/tls.yaml"
expect_output tls-missing-check "web.tls_cert_file $tmp/no-cert.pem"
printf 'web:\n  basic_auth_file: %s/no-users\n' "$tmp" >"$tmp/auth.yaml"
check auth-missing-check 2 "$bin" --check-config --config "$tmp/auth.yaml"
expect_output auth-missing-check "web.basic_auth_file $tmp/no-users: cannot be read"
check auth-missing-start 2 "$bin" --config "$tmp/auth.yaml" --connect "sim:$scenarios/classic-1-one-busy.yaml"
expect_lines auth-missing-start 1
printf 'alice\n' >"$tmp/users"
printf 'web:\n  basic_auth_file: %s/users\n' "$tmp" >"$tmp/auth-bad.yaml"
check auth-bad-check 2 "$bin" --check-config --config "$tmp/auth-bad.yaml"
check auth-bad-start 2 "$bin" --config "$tmp/auth-bad.yaml" --connect "sim:$scenarios/classic-1-one-busy.yaml"
expect_lines auth-bad-start 1
# A start, not only --check-config, with a TLS pair that is missing or is no
# certificate: exit 2, which the unit's RestartPreventExitStatus holds.
check tls-missing-start 2 "$bin" --config "$tmp/tls.yaml" --connect "sim:$scenarios/classic-1-one-busy.yaml"
expect_lines tls-missing-start 1
printf 'not a certificate\n' >"$tmp/garbage.pem"
printf 'web:\n  tls_cert_file: %s/garbage.pem\n  tls_key_file: %s/garbage.pem\n' "$tmp" "$tmp" >"$tmp/tls-garbage.yaml"
check tls-garbage-check 2 "$bin" --check-config --config "$tmp/tls-garbage.yaml"
expect_output tls-garbage-check "web.tls_cert_file $tmp/garbage.pem: cannot load the certificate"
check tls-garbage-start 2 "$bin" --config "$tmp/tls-garbage.yaml" --connect "sim:$scenarios/classic-1-one-busy.yaml"
expect_lines tls-garbage-start 1
# A key that does not belong to the certificate.
if command -v openssl >/dev/null; then
  for n in a b; do
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
      -keyout "$tmp/key-$n.pem" -out "$tmp/cert-$n.pem" >/dev/null 2>&1
  done
  printf 'web:\n  tls_cert_file: %s/cert-a.pem\n  tls_key_file: %s/key-b.pem\n' "$tmp" "$tmp" >"$tmp/tls-mismatch.yaml"
  check tls-mismatch-start 2 "$bin" --config "$tmp/tls-mismatch.yaml" --connect "sim:$scenarios/classic-1-one-busy.yaml"
  expect_output tls-mismatch-start "does not match the certificate"
fi

# A port another process holds: exit 1, one line that says so once.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(30)' "$port" &
holder=$!
for _ in $(seq 50); do
  python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$port" 2>/dev/null && break
  sleep 0.1
done
check listen-in-use 1 "$bin" --connect "sim:$scenarios/classic-1-one-busy.yaml" --listen "127.0.0.1:$port"
kill "$holder" 2>/dev/null
grep -v ' info ' "$tmp/out" >"$tmp/out.err"; mv "$tmp/out.err" "$tmp/out"
expect_lines listen-in-use 1
expect_output listen-in-use "^memory_coordinator: cannot serve metrics on 127\.0\.0\.1:$port: address in use"
if [[ $(grep -o "cannot serve metrics" "$tmp/out" | wc -l) -eq 1 ]]; then
  passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL listen-in-use: prefix repeated"; fi

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]

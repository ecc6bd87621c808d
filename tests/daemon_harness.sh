# shellcheck shell=bash
# daemon_harness.sh: what the shell tests and benchmarks that run the daemon
# share. Source it after `set -u`. It makes $tmp, a scratch directory, and
# $pid, the daemon the script starts in the background (empty while none
# runs). On exit it stops that daemon, runs the script's on_exit() if the
# script defines one, and removes $tmp.
tmp=$(mktemp -d)
pid=
passed=0
failed=0

# stop_daemon: SIGTERM to $pid if it still runs, and wait for it to end.
stop_daemon() {
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  pid=
}

_daemon_harness_exit() {
  stop_daemon
  if declare -F on_exit >/dev/null; then on_exit; fi
  rm -rf "$tmp"
}
trap _daemon_harness_exit EXIT

# free_port: a TCP port on 127.0.0.1 that nothing listens on now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# The tally of a test script: ok and bad count checks; finish FILE... prints
# the tally and, after a failure, each FILE, and exits 1.
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }
finish() {
  echo "$passed passed, $failed failed"
  [[ $failed -eq 0 ]] && return 0
  local f
  for f in "$@"; do
    echo "== $f"
    sed 's/^/  | /' "$f"
  done
  exit 1
}

#!/usr/bin/env bash
# The daemon's HTTP surface, with real curl against the running binary (on a
# simulated host, dry-run):
#   - GET and HEAD on /, /metrics, /healthz; any other method 405 with Allow;
#     any other path 404;
#   - oversized request lines, headers and bodies are refused (an error
#     status or a closed connection), and the daemon serves on afterwards;
#   - basic auth (user:sha256:HEX and user:password lines) guards everything
#     but /healthz;
#   - TLS with a self-signed certificate made here with openssl: served over
#     https when CivetWeb can load OpenSSL; where it cannot (Debian 12's
#     CivetWeb 1.15 with OpenSSL 3) the daemon must refuse to start, saying
#     so, rather than serve plain HTTP on a port configured for TLS.
# Usage: http_test.sh BINARY SCENARIO
set -uo pipefail
bin=$1
scenario=$2
for tool in curl openssl python3; do
  command -v "$tool" >/dev/null || { echo "SKIP: needs $tool"; exit 77; }
done
# shellcheck source=tests/daemon_harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/../daemon_harness.sh"
check() {  # check DESCRIPTION EXPECTED ACTUAL
  if [[ "$2" == "$3" ]]; then ok; else bad "$1: expected '$2', got '$3'"; fi
}

# start_daemon EXTRA_WEB_YAML: starts the daemon and waits for /healthz.
start_daemon() {
  port=$(free_port)
  scheme=${2:-http}
  cat >"$tmp/mc.yaml" <<YAML
connect: "sim:$scenario"
interval_s: 0.5
policy: seed
dry_run: true
web: {listen: "127.0.0.1:$port"$1}
YAML
  "$bin" --config "$tmp/mc.yaml" >"$tmp/log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    if curl -sk -o /dev/null "$scheme://127.0.0.1:$port/healthz"; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then wait "$pid"; pid_rc=$?; pid=; return 1; fi
    sleep 0.1
  done
  return 1
}
stop_and_check_daemon() {
  [[ -n $pid ]] || return 0
  kill -TERM "$pid"
  wait "$pid"
  local rc=$?
  pid=
  check "daemon exits 0 on SIGTERM" 0 "$rc"
}
status() {  # status [CURL ARGS...] URL -> HTTP status, or 000 when none
  curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$@"
}

# --- methods and paths ---------------------------------------------------
start_daemon "" || { bad "daemon did not start"; sed 's/^/  | /' "$tmp/log"; exit 1; }
base="http://127.0.0.1:$port"
for path in / /metrics /healthz; do
  check "GET $path" 200 "$(status "$base$path")"
  check "HEAD $path" 200 "$(status -I "$base$path")"
done
body=$(curl -s "$base/metrics")
[[ $body == *"memcoord_ticks_total"* ]] && ok || bad "GET /metrics has memcoord_ticks_total"
head_body=$(curl -s -X HEAD --max-time 5 "$base/metrics" 2>/dev/null | wc -c)
check "HEAD /metrics sends no body" 0 "$head_body"
len=$(curl -sI "$base/metrics" | tr -d '\r' | awk -F': ' 'tolower($1)=="content-length"{print $2}')
[[ -n $len && $len -gt 0 ]] && ok || bad "HEAD /metrics gives the Content-Length of the GET ($len)"

for method in POST PUT DELETE PATCH OPTIONS PROPFIND MKCOL; do
  for path in / /metrics /healthz; do
    check "$method $path" 405 "$(status -X "$method" "$base$path")"
  done
done
# CivetWeb answers TRACE and methods it does not know itself, before any
# handler runs: 400 there. Refused either way, and never echoed back.
for method in TRACE FOO; do
  for path in / /metrics; do
    got=$(status -X "$method" "$base$path")
    [[ $got == 4?? || $got == 501 ]] && ok || bad "$method $path is refused (got $got)"
  done
done
trace=$(curl -s --max-time 5 -X TRACE -H 'X-Secret: s3cr3t' "$base/metrics")
[[ $trace != *s3cr3t* ]] && ok || bad "TRACE does not echo request headers"
allow=$(curl -s -D - -o /dev/null -X POST "$base/metrics" | tr -d '\r' |
        awk -F': ' 'tolower($1)=="allow"{print $2}')
check "405 names the allowed methods" "GET, HEAD" "$allow"
check "POST with a body" 405 "$(status --data 'x=1' "$base/metrics")"

for path in /foo /metrics/ /metrics/x /healthz/ /index.html /favicon.ico \
            /..%2f..%2fetc%2fpasswd /%2e%2e/%2e%2e/etc/passwd /metricsx; do
  check "GET $path" 404 "$(status --path-as-is "$base$path")"
done
check "HEAD /nope" 404 "$(status -I "$base/nope")"
raw=$(printf 'GET /../../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' |
      python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(sys.stdin.buffer.read())
data = b""
while True:
    try:
        chunk = s.recv(65536)
    except OSError:
        break
    if not chunk:
        break
    data += chunk
print(data.split(b"\r\n", 1)[0].decode("latin-1"))
print("root:" in data.decode("latin-1"))' "$port")
[[ $raw != *"200"* && $raw == *"False" ]] && ok || bad "dot-dot path gives no file: $raw"

# --- oversized requests --------------------------------------------------
# CivetWeb refuses a request head (line + headers) larger than its buffer;
# any error status or a closed connection is a refusal.
refused() {  # refused DESCRIPTION STATUS
  echo "oversized: $1 -> ${2/000/connection closed}"
  case $2 in
    000|4??) ok ;;
    *) bad "$1 is refused (got $2)" ;;
  esac
}
long=$(head -c 70000 /dev/zero | tr '\0' a)
refused "a 70 KB URL" "$(status "$base/metrics?$long")"
refused "a 70 KB header" "$(status -H "X-Big: $long" "$base/metrics")"
pad=$(head -c 100 /dev/zero | tr '\0' b)
hdrs=()
for i in $(seq 1000); do hdrs+=(-H "X-H$i: $pad"); done
refused "1000 headers of 100 bytes" "$(status "${hdrs[@]}" "$base/metrics")"
head -c 20000000 /dev/zero >"$tmp/body"
refused "a 20 MB POST body" "$(status --data-binary @"$tmp/body" "$base/metrics")"
big_get=$(status -X GET --data-binary @"$tmp/body" "$base/nope")
refused "a 20 MB GET body to an unknown path" "$big_get"
check "serves /metrics after oversized requests" 200 "$(status "$base/metrics")"
kill -0 "$pid" 2>/dev/null && ok || bad "daemon alive after oversized requests"
rss_kb=$(awk '/^VmRSS/{print $2}' /proc/"$pid"/status)
[[ $rss_kb -lt 200000 ]] && ok || bad "RSS after a 20 MB body stays small ($rss_kb kB)"
stop_and_check_daemon

# --- basic auth ----------------------------------------------------------
hash=$(printf '%s' 's3cret pass' | sha256sum | cut -d' ' -f1)
cat >"$tmp/auth" <<AUTH
# operators
alice:sha256:$hash
bob:plain-pw
AUTH
start_daemon ", basic_auth_file: \"$tmp/auth\"" ||
  { bad "daemon with basic auth did not start"; sed 's/^/  | /' "$tmp/log"; exit 1; }
base="http://127.0.0.1:$port"
check "no credentials" 401 "$(status "$base/metrics")"
check "no credentials on /" 401 "$(status "$base/")"
check "no credentials, POST" 401 "$(status -X POST "$base/metrics")"
check "/healthz needs none" 200 "$(status "$base/healthz")"
check "hashed password" 200 "$(status -u 'alice:s3cret pass' "$base/metrics")"
check "plain password" 200 "$(status -u 'bob:plain-pw' "$base/metrics")"
check "wrong password" 401 "$(status -u 'alice:s3cret' "$base/metrics")"
check "the hash itself is not the password" 401 "$(status -u "alice:sha256:$hash" "$base/metrics")"
check "unknown user" 401 "$(status -u 'eve:plain-pw' "$base/metrics")"
check "empty user" 401 "$(status -u ':plain-pw' "$base/metrics")"
check "garbage Authorization" 401 "$(status -H 'Authorization: Basic %%%%' "$base/metrics")"
check "Bearer is not Basic" 401 "$(status -H 'Authorization: Bearer abc' "$base/metrics")"
check "authenticated POST still 405" 405 "$(status -u 'bob:plain-pw' -X POST "$base/metrics")"
check "authenticated unknown path 404" 404 "$(status -u 'bob:plain-pw' "$base/nope")"
www=$(curl -s -D - -o /dev/null "$base/metrics" | tr -d '\r' |
      awk -F': ' 'tolower($1)=="www-authenticate"{print $2}')
[[ $www == Basic* ]] && ok || bad "401 carries a Basic challenge ($www)"
stop_and_check_daemon

# --- TLS -----------------------------------------------------------------
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 \
  -keyout "$tmp/key.pem" -out "$tmp/cert.pem" >/dev/null 2>&1 ||
  { bad "openssl could not make a certificate"; exit 1; }
pid_rc=
if start_daemon ", tls_cert_file: \"$tmp/cert.pem\", tls_key_file: \"$tmp/key.pem\", basic_auth_file: \"$tmp/auth\"" https; then
  echo "TLS: served"
  base="https://127.0.0.1:$port"
  check "https with the CA" 200 "$(status --cacert "$tmp/cert.pem" -u 'bob:plain-pw' "$base/metrics")"
  check "https without credentials" 401 "$(status --cacert "$tmp/cert.pem" "$base/metrics")"
  check "https healthz" 200 "$(status --cacert "$tmp/cert.pem" "$base/healthz")"
  v=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$base/healthz"; echo " rc=$?")
  [[ $v != "200 rc=0" ]] && ok || bad "an unknown certificate is not trusted"
  plain=$(status "http://127.0.0.1:$port/metrics")
  [[ $plain != 200 ]] && ok || bad "plain http on the TLS port gets no metrics"
  stop_and_check_daemon
elif [[ -n $pid_rc ]]; then
  echo "TLS: the daemon refused to start (exit $pid_rc)"
  [[ $pid_rc -ne 0 ]] && ok || bad "refusing TLS exits non-zero"
  if grep -q "OpenSSL" "$tmp/log"; then
    ok
  else
    bad "the refusal says why"; sed 's/^/  | /' "$tmp/log"
  fi
  if curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/metrics"; then
    bad "nothing serves plain HTTP on the TLS port"
  else
    ok
  fi
else
  bad "daemon with TLS neither served nor exited"; sed 's/^/  | /' "$tmp/log"
fi
# A key that does not belong to the certificate, or a missing key file:
# the daemon refuses to start.
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=other \
  -keyout "$tmp/other-key.pem" -out "$tmp/other.pem" >/dev/null 2>&1
for key in "$tmp/missing.pem" "$tmp/other-key.pem"; do
  pid_rc=
  if start_daemon ", tls_cert_file: \"$tmp/cert.pem\", tls_key_file: \"$key\"" https; then
    bad "TLS with key $(basename "$key") is refused"
    stop_and_check_daemon
  else
    [[ -n $pid_rc && $pid_rc -ne 0 ]] && ok ||
      bad "TLS with key $(basename "$key") ends the daemon (rc ${pid_rc:-none})"
  fi
done

finish "$tmp/log"

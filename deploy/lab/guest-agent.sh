#!/bin/sh
# Command agent of the lab guest (busybox sh). Usage: lab-agent PORT
#
# Reads one request per line from the virtio-serial PORT:
#   RUN <id> <timeout_s> <command, base64>
# runs the command with `sh -c` (stdin /dev/null, stdout and stderr together, killed
# after timeout_s), and answers
#   @@begin <id>
#   <output>
#   @@end <id> <exit status>
# The host matches answers by id, so an answer that was still pending when an earlier
# client gave up is skipped by the next one. While no host client is connected, a read
# of the port returns end-of-file at once; the agent then polls.
port=$1
[ -c "$port" ] || { echo "lab-agent: $port is not a character device" >&2; exit 1; }
exec 3<>"$port" || { echo "lab-agent: cannot open $port" >&2; exit 1; }
out=/run/lab-agent.out

while :; do
  if ! IFS= read -r line <&3; then
    sleep 0.2
    continue
  fi
  # shellcheck disable=SC2086 # split the request into its fields on purpose
  set -- $line
  if [ "$1" != RUN ] || [ $# -ne 4 ]; then continue; fi
  id=$2
  limit=$3
  if cmd=$(printf '%s' "$4" | base64 -d 2>/dev/null); then
    # Commands get a normal OOM score back (init and the agent run at -1000).
    # shellcheck disable=SC2016 # $1 is expanded by the inner sh
    timeout -s KILL "$limit" sh -c 'echo 0 >/proc/self/oom_score_adj; eval "$1"' sh "$cmd" \
      </dev/null >"$out" 2>&1
    rc=$?
  else
    echo "lab-agent: request $id: command is not valid base64" >"$out"
    rc=2
  fi
  {
    echo "@@begin $id"
    cat "$out"
    # keep the end marker on a line of its own
    if [ -s "$out" ] && [ -n "$(tail -c 1 "$out")" ]; then echo; fi
    echo "@@end $id $rc"
  } >&3
  rm -f "$out"
done

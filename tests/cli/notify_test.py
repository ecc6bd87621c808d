#!/usr/bin/env python3
"""The daemon speaks systemd's notification protocol to $NOTIFY_SOCKET.

The real binary runs on a simulated host with NOTIFY_SOCKET naming an AF_UNIX
datagram socket that this test holds, once as a path and once in the abstract
namespace ("@name"), with WATCHDOG_USEC set as systemd sets it:
  - READY=1 arrives, with a STATUS= line, and at that moment /metrics serves
    and memcoord_ticks_total is at least 1 (the first tick ran);
  - WATCHDOG=1 arrives after every tick (at least 3 in 5 intervals);
  - SIGHUP: RELOADING=1 with MONOTONIC_USEC=, then READY=1 again;
  - SIGTERM: STOPPING=1, and the daemon exits 0;
  - an interval longer than a third of WATCHDOG_USEC sends WATCHDOG_USEC=
    three intervals long; with that interval (20 s) READY=1 finds exactly
    one tick done.
Negative control: with NOTIFY_SOCKET unset the socket receives nothing, so a
message received above came from the daemon.

  notify_test.py BINARY SCENARIO
Prints "N passed, N failed"; exit status 0 when nothing failed.
"""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

binary, scenario = sys.argv[1], sys.argv[2]
passed = failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
        print("ok  ", what)
    else:
        failed += 1
        print("FAIL", what)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def scrape(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            return r.read().decode()
    except OSError:
        return None


def ticks(text):
    for line in (text or "").splitlines():
        if line.startswith("memcoord_ticks_total "):
            return float(line.split()[1])
    return 0


def receive(sock, deadline):
    """The next datagram as a dict of its assignments, or None at deadline."""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        sock.settimeout(left)
        try:
            data = sock.recv(4096)
        except socket.timeout:
            return None
        return dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)


def wait_for(sock, key, seconds, seen):
    """Receives until a message with `key` arrives; every message goes to seen."""
    deadline = time.monotonic() + seconds
    while True:
        msg = receive(sock, deadline)
        if msg is None:
            return None
        seen.append(msg)
        if key in msg:
            return msg


def start(env_socket, port, interval, watchdog_usec="30000000"):
    env = dict(os.environ)
    env.pop("NOTIFY_SOCKET", None)
    if env_socket is not None:
        env["NOTIFY_SOCKET"] = env_socket
        env["WATCHDOG_USEC"] = watchdog_usec
    return subprocess.Popen(
        [binary, "--connect", f"sim:{scenario}", "--interval", str(interval),
         "--listen", f"127.0.0.1:{port}", "--log-level", "warn"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def run(label, bind_address, env_socket):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(bind_address)
    port = free_port()
    proc = start(env_socket, port, 0.2)
    seen = []
    try:
        ready = wait_for(sock, "READY", 10, seen)
        check(ready is not None and ready.get("READY") == "1", f"{label}: READY=1")
        if ready is not None:
            text = scrape(port)
            check(text is not None, f"{label}: /metrics serves when READY=1 arrives")
            check(ticks(text) >= 1, f"{label}: the first tick ran before READY=1")
            check("guests" in ready.get("STATUS", ""),
                  f"{label}: READY=1 comes with STATUS= ({ready.get('STATUS')!r})")
        seen.clear()
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            msg = receive(sock, deadline)
            if msg is not None:
                seen.append(msg)
        dogs = sum(1 for m in seen if m.get("WATCHDOG") == "1")
        check(dogs >= 3, f"{label}: WATCHDOG=1 after each tick ({dogs} in 1 s at 0.2 s)")
        seen.clear()
        proc.send_signal(signal.SIGHUP)
        reloading = wait_for(sock, "RELOADING", 5, seen)
        check(reloading is not None and reloading.get("RELOADING") == "1"
              and reloading.get("MONOTONIC_USEC", "").isdigit(),
              f"{label}: SIGHUP sends RELOADING=1 with MONOTONIC_USEC")
        again = wait_for(sock, "READY", 5, seen)
        check(again is not None, f"{label}: READY=1 again after the reload")
        proc.send_signal(signal.SIGTERM)
        stopping = wait_for(sock, "STOPPING", 5, seen)
        check(stopping is not None and stopping.get("STOPPING") == "1",
              f"{label}: SIGTERM sends STOPPING=1")
        rc = stop(proc)
        check(rc == 0, f"{label}: the daemon exits 0 (exit {rc})")
    finally:
        stop(proc)
        sock.close()


with tempfile.TemporaryDirectory(prefix="memcoord-notify-") as tmp:
    path = os.path.join(tmp, "notify")
    run("path", path, path)
    abstract = f"memcoord-notify-test-{os.getpid()}"
    run("abstract", "\0" + abstract, "@" + abstract)

    # An interval of 20 s against a 30 s watchdog: it asks for 60 s.
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    long_path = os.path.join(tmp, "long")
    sock.bind(long_path)
    port = free_port()
    proc = start(long_path, port, 20)
    seen = []
    msg = wait_for(sock, "WATCHDOG_USEC", 10, seen)
    check(msg is not None and msg.get("WATCHDOG_USEC") == "60000000",
          f"a 20 s interval under a 30 s watchdog sends WATCHDOG_USEC=60000000 ({msg})")
    # One tick in 20 s: READY=1 comes after the first and before the second.
    ready = wait_for(sock, "READY", 10, seen)
    n = ticks(scrape(port)) if ready is not None else 0
    check(ready is not None and n == 1,
          f"READY=1 comes after the first tick (memcoord_ticks_total {n} at READY=1)")
    stop(proc)
    sock.close()

    # Negative control: no NOTIFY_SOCKET, nothing arrives.
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    quiet = os.path.join(tmp, "quiet")
    sock.bind(quiet)
    port = free_port()
    proc = start(None, port, 0.2)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and ticks(scrape(port)) < 2:
        time.sleep(0.1)
    check(ticks(scrape(port)) >= 2, "control: the daemon without NOTIFY_SOCKET ticks")
    check(receive(sock, time.monotonic() + 0.5) is None,
          "control: without NOTIFY_SOCKET the socket receives nothing")
    stop(proc)
    sock.close()

print(f"{passed} passed, {failed} failed")
sys.exit(0 if failed == 0 else 1)

#!/usr/bin/env python3
"""Slow clients must not take the metrics endpoint down.

Starts the daemon (simulated host, dry-run, default web limits) and, for
ATTACK seconds, keeps open:
  - 300 connections that send a request line and then one header line every
    2 s, never ending the header (slowloris), spread over 10 source
    addresses 127.0.1.1-10 (30 each: under the per-peer cap, so the total
    cap and the header deadline are what stop them);
  - 500 connections that connect and send nothing: 250 from 127.0.0.2 (over
    the per-peer cap) and 250 from 127.0.2.1-10.
Each connection the daemon closes is reopened 1 s later. Meanwhile curl
scrapes /metrics once a second from 127.0.0.1.

With --tls the daemon serves TLS with basic auth: the slow clients finish
their handshake and dribble inside TLS (the silent ones never start one)
and never authenticate; the scraper does, and checks the certificate.

Fails unless: at least 95 % of the scrapes answer 200 within 2 s; every
connection the daemon closed was closed within the header deadline of its
connect (plus 1 s), and none still open at the end is older than that; the
daemon's resident memory never grows more than 20 MiB above its level
before the attack; the daemon is alive and answers after the attack.

Usage: slowloris_test.py BINARY SCENARIO [--tls] [--attack SECONDS]
"""
import argparse
import errno
import os
import selectors
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

HEADER_TIMEOUT_S = 5.0  # web.header_timeout_s default
SLACK_S = 1.0
DRIBBLERS = 300
SILENT = 500
DRIBBLE_EVERY_S = 2.0
REOPEN_AFTER_S = 1.0
MAX_CONNECTS = 40000  # a bound on the attack whatever happens
SCRAPE_LIMIT_S = 2.0
MAX_GROWTH_MIB = 20.0


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Slow:
    """One attacking connection: its source address, kind and timings."""

    def __init__(self, source, kind):
        self.source = source
        self.kind = kind  # "dribble" or "silent"
        self.sock = None
        self.tls = None
        self.state = "closed"  # connecting, handshake, open, closed
        self.opened = 0.0
        self.next_at = 0.0  # reopen or next header line
        self.lines = 0


class Attack:
    def __init__(self, port, use_tls, conns, reopen=True):
        self.port = port
        self.reopen = reopen
        self.ctx = None
        if use_tls:
            self.ctx = ssl.create_default_context()
            self.ctx.check_hostname = False
            self.ctx.verify_mode = ssl.CERT_NONE
        self.sel = selectors.DefaultSelector()
        self.conns = conns
        self.connects = 0
        self.closed_by_daemon = 0
        self.late = []  # (lifetime, kind) of connections closed too late
        self.lifetimes = []
        self.connect_errors = 0

    def open(self, c, now):
        if self.connects >= MAX_CONNECTS:
            c.state = "done"
            return
        self.connects += 1
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.bind((c.source, 0))
            s.connect_ex(("127.0.0.1", self.port))
        except OSError:
            s.close()
            self.connect_errors += 1
            c.state = "closed"
            c.next_at = now + REOPEN_AFTER_S
            return
        c.sock = s
        c.tls = None
        c.state = "connecting"
        c.opened = now
        c.lines = 0
        c.next_at = now
        self.sel.register(s, selectors.EVENT_WRITE, c)

    def drop(self, c, now, by_daemon):
        try:
            self.sel.unregister(c.sock)
        except (KeyError, ValueError):
            pass
        (c.tls or c.sock).close()
        c.sock = c.tls = None
        if by_daemon:
            self.closed_by_daemon += 1
            life = now - c.opened
            self.lifetimes.append(life)
            if life > HEADER_TIMEOUT_S + SLACK_S:
                self.late.append((life, c.kind))
        c.state = "closed" if self.reopen else "done"
        c.next_at = now + REOPEN_AFTER_S

    def send_line(self, c, now):
        line = (b"GET /metrics HTTP/1.1\r\nHost: x\r\n" if c.lines == 0
                else b"X-Slow-%d: a\r\n" % c.lines)
        try:
            (c.tls or c.sock).send(line)
        except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
            pass
        except OSError:
            self.drop(c, now, by_daemon=True)
            return
        c.lines += 1
        c.next_at = now + DRIBBLE_EVERY_S

    def ready(self, c, mask, now):
        if c.state == "connecting":
            err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err != 0:
                self.connect_errors += 1
                self.drop(c, now, by_daemon=False)
                return
            if self.ctx is not None and c.kind == "dribble":
                c.tls = self.ctx.wrap_socket(c.sock, do_handshake_on_connect=False)
                c.state = "handshake"
            else:
                c.state = "open"
                self.sel.modify(c.sock, selectors.EVENT_READ, c)
                if c.kind == "dribble":
                    self.send_line(c, now)
                return
        if c.state == "handshake":
            try:
                c.tls.do_handshake()
            except ssl.SSLWantReadError:
                self.sel.modify(c.sock, selectors.EVENT_READ, c)
                return
            except ssl.SSLWantWriteError:
                self.sel.modify(c.sock, selectors.EVENT_WRITE, c)
                return
            except OSError:
                self.drop(c, now, by_daemon=True)
                return
            c.state = "open"
            self.sel.modify(c.sock, selectors.EVENT_READ, c)
            self.send_line(c, now)
            return
        # Open: anything readable is the daemon closing (or answering).
        try:
            data = (c.tls or c.sock).recv(4096)
        except (ssl.SSLWantReadError, BlockingIOError):
            return
        except OSError:
            data = b""
        if not data:
            self.drop(c, now, by_daemon=True)

    def run(self, seconds, stop):
        start = time.monotonic()
        end = start + seconds
        # Open in waves, as a client would, not in one burst.
        for i, c in enumerate(self.conns):
            c.next_at = start + (i % 40) * 0.025
        while not stop.is_set():
            now = time.monotonic()
            if now >= end or (not self.reopen and all(
                    c.state == "done" for c in self.conns)):
                break
            for key, mask in self.sel.select(timeout=0.05):
                self.ready(key.data, mask, time.monotonic())
            now = time.monotonic()
            for c in self.conns:
                if c.state == "closed" and now >= c.next_at and now < end:
                    self.open(c, now)
                elif (c.state == "open" and c.kind == "dribble"
                      and now >= c.next_at):
                    self.send_line(c, now)
        # Connections still open must be younger than their deadline.
        now = time.monotonic()
        still_open = 0
        for c in self.conns:
            if c.state in ("connecting", "handshake", "open"):
                still_open += 1
                life = now - c.opened
                if life > HEADER_TIMEOUT_S + SLACK_S:
                    self.late.append((life, c.kind + " (still open)"))
                try:
                    self.sel.unregister(c.sock)
                except (KeyError, ValueError):
                    pass
                (c.tls or c.sock).close()
        return still_open


def scrape(url, curl_args):
    cmd = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{time_total}",
           "--max-time", "5", "--interface", "127.0.0.1"] + curl_args + [url]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout
        code, t = out.split()
        return int(code), float(t)
    except (subprocess.TimeoutExpired, ValueError):
        return 0, 10.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("scenario")
    ap.add_argument("--tls", action="store_true")
    ap.add_argument("--attack", type=float, default=25)
    args = ap.parse_args()
    for tool in ["curl"] + (["openssl"] if args.tls else []):
        if shutil.which(tool) is None:
            print(f"SKIP: needs {tool}")
            return 77
    # The attack needs ~800 descriptors here at once.
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4096:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard), hard))

    tmp = tempfile.mkdtemp()
    daemon = None
    try:
        port = free_port()
        web = f'listen: "127.0.0.1:{port}"'
        scheme = "http"
        curl_args = []
        if args.tls:
            subprocess.run(
                ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                 "-days", "1", "-subj", "/CN=127.0.0.1", "-addext",
                 "subjectAltName=IP:127.0.0.1", "-keyout", f"{tmp}/key.pem",
                 "-out", f"{tmp}/cert.pem"], check=True, capture_output=True)
            with open(f"{tmp}/auth", "w") as f:
                f.write("prometheus:scrape-pw\n")
            web += (f', tls_cert_file: "{tmp}/cert.pem", tls_key_file: '
                    f'"{tmp}/key.pem", basic_auth_file: "{tmp}/auth"')
            scheme = "https"
            curl_args = ["--cacert", f"{tmp}/cert.pem", "-u",
                         "prometheus:scrape-pw"]
        with open(f"{tmp}/mc.yaml", "w") as f:
            f.write(f'connect: "sim:{args.scenario}"\ninterval_s: 0.5\n'
                    f"policy: seed\ndry_run: true\nweb: {{{web}}}\n")
        log = open(f"{tmp}/log", "w")
        daemon = subprocess.Popen([args.binary, "--config", f"{tmp}/mc.yaml"],
                                  stdout=log, stderr=subprocess.STDOUT)
        url = f"{scheme}://127.0.0.1:{port}/metrics"
        for _ in range(100):
            if scrape(url, curl_args)[0] == 200:
                break
            if daemon.poll() is not None:
                break
            time.sleep(0.1)
        else:
            pass
        if scrape(url, curl_args)[0] != 200:
            print("FAIL the daemon does not serve")
            print(open(f"{tmp}/log").read())
            return 1
        for _ in range(5):  # first scrapes: allocations that happen once
            scrape(url, curl_args)
        time.sleep(1)
        rss0 = rss_kib(daemon.pid)

        # The deadline alone: a few slow clients, under every cap, are each
        # closed when their header is late, however often they send a line.
        few = ([Slow("127.0.3.1", "dribble") for _ in range(20)] +
               [Slow("127.0.3.2", "silent") for _ in range(10)])
        probe = Attack(port, args.tls, few, reopen=False)
        probe.run(HEADER_TIMEOUT_S + SLACK_S + 1.5, threading.Event())
        probe_lives = sorted(probe.lifetimes)

        conns = [Slow(f"127.0.1.{1 + i % 10}", "dribble")
                 for i in range(DRIBBLERS)]
        conns += [Slow("127.0.0.2" if i % 2 == 0 else f"127.0.2.{1 + i % 10}",
                       "silent") for i in range(SILENT)]
        attack = Attack(port, args.tls, conns)
        stop = threading.Event()
        result = {}
        attacker = threading.Thread(
            target=lambda: result.setdefault("open", attack.run(args.attack, stop)))
        attacker.start()
        scrapes = []
        peak = rss0
        begin = time.monotonic()
        time.sleep(2)  # the attack is in place
        while time.monotonic() - begin < args.attack - 1:
            t0 = time.monotonic()
            scrapes.append(scrape(url, curl_args))
            peak = max(peak, rss_kib(daemon.pid))
            time.sleep(max(0.0, 1.0 - (time.monotonic() - t0)))
        attacker.join(timeout=args.attack + 30)
        stop.set()
        attacker.join(timeout=10)
        time.sleep(0.5)
        rss1 = rss_kib(daemon.pid)
        after = scrape(url, curl_args)
        alive = daemon.poll() is None

        n = len(scrapes)
        good = [t for code, t in scrapes if code == 200 and t <= SCRAPE_LIMIT_S]
        times = sorted(t for _, t in scrapes)
        codes = sorted({code for code, _ in scrapes})
        lifetimes = sorted(attack.lifetimes)
        mode = "TLS + basic auth" if args.tls else "plain HTTP"
        print(f"{mode}: {DRIBBLERS} dribbling + {SILENT} silent connections for "
              f"{args.attack:.0f} s, {attack.connects} connects in all "
              f"({attack.connect_errors} failed to connect)")
        print(f"deadline alone: {len(probe_lives)} of {len(few)} slow connections "
              f"under the caps closed by the daemon after "
              f"{probe_lives[0] if probe_lives else 0:.2f}-"
              f"{probe_lives[-1] if probe_lives else 0:.2f} s "
              f"(header_timeout_s {HEADER_TIMEOUT_S:.0f}, dribblers sent a line every "
              f"{DRIBBLE_EVERY_S:.0f} s)")
        print(f"scrapes: {len(good)}/{n} answered 200 within {SCRAPE_LIMIT_S:.0f} s "
              f"({100.0 * len(good) / max(n, 1):.1f} %), statuses {codes}, "
              f"latency median {times[n // 2] * 1000:.0f} ms, max {times[-1] * 1000:.0f} ms")
        if lifetimes:
            print(f"slow connections closed by the daemon: {attack.closed_by_daemon}, "
                  f"lifetime median {lifetimes[len(lifetimes) // 2]:.2f} s, "
                  f"max {lifetimes[-1]:.2f} s (deadline {HEADER_TIMEOUT_S:.0f} s); "
                  f"{len(attack.late)} later than the deadline + {SLACK_S:.0f} s; "
                  f"{result.get('open', 0)} still open at the end")
        print(f"RSS: {rss0 / 1024:.1f} MiB before, peak {peak / 1024:.1f} MiB "
              f"(+{(peak - rss0) / 1024:.1f}), {rss1 / 1024:.1f} MiB after")
        fail = []
        if n == 0 or len(good) < 0.95 * n:
            fail.append("fewer than 95 % of the scrapes answered 200 within 2 s")
        if attack.late:
            fail.append(f"connections outlived the header deadline: {attack.late[:5]}")
        if (len(probe_lives) != len(few) or probe.late or
                probe_lives[0] < HEADER_TIMEOUT_S - 0.5):
            fail.append("slow connections under the caps were not each closed "
                        f"at the header deadline: {probe_lives}")
        if attack.closed_by_daemon == 0:
            fail.append("the daemon closed no slow connection")
        if (peak - rss0) / 1024 > MAX_GROWTH_MIB:
            fail.append(f"RSS grew by {(peak - rss0) / 1024:.1f} MiB")
        if not alive or after[0] != 200:
            fail.append(f"the daemon does not serve after the attack ({after})")
        for f in fail:
            print("FAIL " + f)
        if fail:
            print(open(f"{tmp}/log").read())
        return 1 if fail else 0
    finally:
        if daemon is not None and daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(timeout=10)
            except subprocess.TimeoutExpired:
                daemon.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

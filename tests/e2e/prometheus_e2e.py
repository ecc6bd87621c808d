#!/usr/bin/env python3
"""End to end: memory_coordinator on a simulated scenario, scraped by a real
Prometheus on loopback; the checks go through Prometheus's HTTP API.

Checks: every DESIGN section 8 metric reaches Prometheus; one
memcoord_domain_actual_bytes series per guest; memcoord_cycles_total grows; the
guest destroyed at 20 s has no series in the daemon's next scrape nor in
Prometheus after its next scrape; promtool accepts a scrape of the daemon.

Exit status: 0 pass, 1 fail, 77 skipped (no prometheus binary).
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

GUESTS = {"busy", "doomed", "idle"}
DESTROYED = "doomed"
DESTROY_AT_S = 20.0

# DESIGN section 8 names that have samples in this scenario (a sample name,
# so histograms are checked by their _bucket series).
REQUIRED = [
    "memcoord_domain_actual_bytes", "memcoord_domain_maximum_bytes",
    "memcoord_domain_unused_bytes", "memcoord_domain_usable_bytes",
    "memcoord_domain_available_bytes", "memcoord_domain_target_bytes",
    "memcoord_domain_stats_age_seconds", "memcoord_domain_swap_in_bytes_total",
    "memcoord_domain_swap_out_bytes_total", "memcoord_domain_major_faults_total",
    "memcoord_domain_class", "memcoord_host_memory_total_bytes",
    "memcoord_host_memory_free_bytes", "memcoord_host_memory_available_bytes",
    "memcoord_threshold_bytes", "memcoord_balloon_actions_total",
    "memcoord_balloon_moved_bytes_total", "memcoord_balloon_errors_total",
    "memcoord_guardrail_clamps_total", "memcoord_cycle_duration_seconds_bucket",
    "memcoord_cycles_total", "memcoord_last_cycle_timestamp_seconds",
    "memcoord_libvirt_up", "memcoord_libvirt_reconnects_total",
    "memcoord_dry_run", "memcoord_build_info",
    "memcoord_config_reload_success",
]


class Failure(Exception):
    pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=5):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (urllib.error.URLError, ConnectionError, socket.timeout):
        return 0, ""


def wait_for(what, predicate, timeout_s, step_s=0.25):
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(step_s)
    raise Failure(f"timed out after {timeout_s:.0f} s waiting for {what}")


class Prometheus:
    def __init__(self, port):
        self.base = f"http://127.0.0.1:{port}"

    def query(self, expr):
        url = self.base + "/api/v1/query?" + urllib.parse.urlencode(
            {"query": expr})
        status, body = http_get(url)
        if status != 200:
            raise Failure(f"query {expr!r}: HTTP {status}: {body[:200]}")
        data = json.loads(body)
        if data.get("status") != "success":
            raise Failure(f"query {expr!r}: {body[:200]}")
        return data["data"]["result"]

    def last_scrape(self):
        r = self.query('timestamp(up{job="memcoord"})')
        return float(r[0]["value"][1]) if r else 0.0


def daemon_domains(port):
    status, body = http_get(f"http://127.0.0.1:{port}/metrics")
    if status != 200:
        return None
    domains = set()
    for line in body.splitlines():
        if line.startswith("#") or 'domain="' not in line:
            continue
        domains.add(line.split('domain="', 1)[1].split('"', 1)[0])
    return domains


def run(args, tmp):
    daemon_port = free_port()
    prom_port = free_port()
    daemon_log = open(os.path.join(tmp, "daemon.log"), "w")
    prom_log = open(os.path.join(tmp, "prometheus.log"), "w")
    procs = []
    try:
        started = time.monotonic()
        daemon = subprocess.Popen(
            [args.daemon, "--connect", "sim:" + args.scenario, "--interval",
             "1", "--listen", f"127.0.0.1:{daemon_port}", "--policy",
             "adaptive"],
            stdout=daemon_log, stderr=subprocess.STDOUT)
        procs.append(daemon)
        wait_for("the daemon's /healthz",
                 lambda: daemon.poll() is None and http_get(
                     f"http://127.0.0.1:{daemon_port}/healthz")[0] == 200,
                 20)
        print(f"daemon up on 127.0.0.1:{daemon_port}")

        config = os.path.join(tmp, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n"
                    "  evaluation_interval: 1s\n"
                    "scrape_configs:\n  - job_name: memcoord\n"
                    "    static_configs:\n"
                    f"      - targets: ['127.0.0.1:{daemon_port}']\n")
        prom = subprocess.Popen(
            [args.prometheus, "--config.file=" + config,
             "--storage.tsdb.path=" + os.path.join(tmp, "tsdb"),
             f"--web.listen-address=127.0.0.1:{prom_port}",
             "--log.level=warn"],
            stdout=prom_log, stderr=subprocess.STDOUT)
        procs.append(prom)
        p = Prometheus(prom_port)
        wait_for("Prometheus to be ready",
                 lambda: prom.poll() is None and http_get(
                     p.base + "/-/ready")[0] == 200, 30)
        wait_for("the memcoord target to be up",
                 lambda: [r for r in p.query('up{job="memcoord"}')
                          if r["value"][1] == "1"], 20)
        print(f"prometheus up on 127.0.0.1:{prom_port}, scraping the daemon")

        # One actual_bytes series per guest, before the destroy.
        def all_guests():
            r = p.query("memcoord_domain_actual_bytes")
            domains = [s["metric"].get("domain") for s in r]
            return r if sorted(domains) == sorted(GUESTS) else None
        series = wait_for("one memcoord_domain_actual_bytes series per guest",
                          all_guests, 15)
        if time.monotonic() - started > DESTROY_AT_S - 2:
            raise Failure("too slow to start: the destroy happened already")
        print("actual_bytes series:",
              sorted(s["metric"]["domain"] for s in series))

        # Every contract metric arrived.
        names = {s["metric"]["__name__"] for s in p.query(
            '{__name__=~"memcoord_.+", job="memcoord"}')}
        missing = [n for n in REQUIRED if n not in names]
        wait_for("every contract metric (missing: %s)" % ", ".join(missing),
                 lambda: not [n for n in REQUIRED if n not in {
                     s["metric"]["__name__"] for s in p.query(
                         '{__name__=~"memcoord_.+", job="memcoord"}')}],
                 15)
        print(f"all {len(REQUIRED)} contract metrics present")

        # Cycles grow.
        first = float(p.query("memcoord_cycles_total")[0]["value"][1])
        wait_for("memcoord_cycles_total to grow",
                 lambda: float(p.query("memcoord_cycles_total")[0]["value"][1])
                 > first, 10)
        print(f"memcoord_cycles_total grows from {first:.0f}")

        # promtool on a scrape of the running daemon.
        if args.promtool:
            body = http_get(f"http://127.0.0.1:{daemon_port}/metrics")[1]
            check = subprocess.run([args.promtool, "check", "metrics"],
                                   input=body, capture_output=True, text=True)
            if check.returncode != 0 or check.stdout or check.stderr:
                raise Failure("promtool check metrics: " + check.stdout +
                              check.stderr)
            print("promtool check metrics: ok")

        # The destroyed guest vanishes from the daemon's next scrape...
        wait_for(f"{DESTROYED} to leave the daemon's /metrics",
                 lambda: (d := daemon_domains(daemon_port)) is not None
                 and DESTROYED not in d and d,
                 DESTROY_AT_S + 15 - (time.monotonic() - started))
        gone_at = time.time()
        remaining = daemon_domains(daemon_port)
        if remaining != GUESTS - {DESTROYED}:
            raise Failure(f"daemon domains after destroy: {remaining}")
        print(f"{DESTROYED} gone from the daemon; remaining {sorted(remaining)}")
        # ...and from Prometheus once it has scraped again (staleness).
        wait_for("Prometheus to scrape after the destroy",
                 lambda: p.last_scrape() > gone_at + 0.01, 10)
        left = p.query(f'{{domain="{DESTROYED}"}}')
        if left:
            raise Failure(f"series of {DESTROYED} still in Prometheus: "
                          f"{[s['metric']['__name__'] for s in left]}")
        after = p.query("memcoord_domain_actual_bytes")
        domains = sorted(s["metric"]["domain"] for s in after)
        if domains != sorted(GUESTS - {DESTROYED}):
            raise Failure(f"actual_bytes series after destroy: {domains}")
        print(f"{DESTROYED} has no series in Prometheus; actual_bytes for "
              f"{domains}")
        if daemon.poll() is not None:
            raise Failure(f"daemon exited with {daemon.returncode}")
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        daemon_log.close()
        prom_log.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--daemon", required=True)
    ap.add_argument("--scenario", required=True)
    ap.add_argument("--prometheus", default=shutil.which("prometheus") or "")
    ap.add_argument("--promtool", default=shutil.which("promtool") or "")
    args = ap.parse_args()
    if not args.prometheus or not os.access(args.prometheus, os.X_OK):
        print("SKIP: no prometheus binary")
        return 77
    tmp = tempfile.mkdtemp(prefix="memcoord-e2e-")
    try:
        run(args, tmp)
    except Failure as e:
        print("FAIL:", e)
        for log in ("daemon.log", "prometheus.log"):
            path = os.path.join(tmp, log)
            if os.path.exists(path):
                with open(path) as f:
                    tail = f.read()[-3000:]
                print(f"--- {log} (tail) ---\n{tail}")
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())

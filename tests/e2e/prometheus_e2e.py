#!/usr/bin/env python3
"""End to end: memory_coordinator on a simulated scenario, scraped by a real
Prometheus on loopback; the checks go through Prometheus's HTTP API.

Checks: every metric of the README "Metrics" section reaches Prometheus; one
memcoord_domain_actual_bytes series per guest; memcoord_ticks_total grows; the
guest destroyed at 20 s has no series in the daemon's next scrape nor in
Prometheus after its next scrape; promtool accepts a scrape of the daemon.

Exit status: 0 pass, 1 fail, 77 skipped (no prometheus binary).
"""
import argparse
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "deploy"))
from memcoord_stack import (Daemon, Failure, Prometheus,  # noqa: E402
                            http_get, scratch_dir, wait_for)

GUESTS = {"busy", "doomed", "idle"}
DESTROYED = "doomed"
DESTROY_AT_S = 20.0

# Metric names of the README "Metrics" section that have samples in this scenario (a sample name,
# so histograms are checked by their _bucket series).
REQUIRED = [
    "memcoord_domain_actual_bytes", "memcoord_domain_maximum_bytes",
    "memcoord_domain_unused_bytes", "memcoord_domain_usable_bytes",
    "memcoord_domain_memtotal_bytes", "memcoord_domain_target_bytes",
    "memcoord_domain_stats_age_seconds", "memcoord_domain_swap_in_bytes_total",
    "memcoord_domain_swap_out_bytes_total", "memcoord_domain_major_faults_total",
    "memcoord_domain_minor_faults_total", "memcoord_domain_info",
    "memcoord_domain_floor_bytes", "memcoord_domain_ceiling_bytes", "memcoord_domain_shares",
    "memcoord_domain_disk_caches_bytes", "memcoord_domain_stats_last_update_timestamp_seconds",
    "memcoord_domain_balloon_autodeflate", "memcoord_domain_balloon_stats_period_seconds",
    "memcoord_domain_class", "memcoord_host_memory_total_bytes",
    "memcoord_host_memory_free_bytes", "memcoord_host_memory_available_bytes",
    "memcoord_threshold_bytes", "memcoord_balloon_actions_total",
    "memcoord_balloon_moved_bytes_total", "memcoord_balloon_errors_total",
    "memcoord_guardrail_clamps_total", "memcoord_tick_duration_seconds_bucket",
    "memcoord_ticks_total", "memcoord_last_tick_timestamp_seconds",
    "memcoord_libvirt_up", "memcoord_libvirt_reconnects_total",
    "memcoord_dry_run", "memcoord_build_info", "memcoord_policy_info",
    "memcoord_config_reload_success",
    "memcoord_libvirt_call_duration_seconds_bucket",
    "memcoord_domain_last_action_timestamp_seconds",
]


def result(prom, expr):
    return prom.query(expr)["result"]


def last_scrape(prom):
    r = result(prom, 'timestamp(up{job="memcoord"})')
    return float(r[0]["value"][1]) if r else 0.0


def daemon_domains(daemon):
    status, body = http_get(daemon.url("/metrics"))
    if status != 200:
        return None
    domains = set()
    for line in body.splitlines():
        if line.startswith("#") or 'domain="' not in line:
            continue
        domains.add(line.split('domain="', 1)[1].split('"', 1)[0])
    return domains


def run(args, tmp):
    started = time.monotonic()
    daemon = Daemon(args.daemon, args.scenario, tmp, policy="adaptive")
    print(f"daemon up on {daemon.instance}")
    p = Prometheus(args.prometheus, [daemon.instance], tmp, job="memcoord")
    try:
        wait_for("the memcoord target to be up",
                 lambda: [r for r in result(p, 'up{job="memcoord"}')
                          if r["value"][1] == "1"], 20)
        print(f"prometheus up on 127.0.0.1:{p.port}, scraping the daemon")

        # One actual_bytes series per guest, before the destroy.
        def all_guests():
            r = result(p, "memcoord_domain_actual_bytes")
            domains = [s["metric"].get("domain") for s in r]
            return r if sorted(domains) == sorted(GUESTS) else None
        series = wait_for("one memcoord_domain_actual_bytes series per guest",
                          all_guests, 15)
        if time.monotonic() - started > DESTROY_AT_S - 2:
            raise Failure("too slow to start: the destroy happened already")
        print("actual_bytes series:",
              sorted(s["metric"]["domain"] for s in series))

        # Every contract metric arrived.
        def missing():
            names = {s["metric"]["__name__"] for s in result(
                p, '{__name__=~"memcoord_.+", job="memcoord"}')}
            return [n for n in REQUIRED if n not in names]
        wait_for("every contract metric (missing: %s)" % ", ".join(missing()),
                 lambda: not missing(), 15)
        print(f"all {len(REQUIRED)} contract metrics present")

        # Cycles grow.
        first = float(result(p, "memcoord_ticks_total")[0]["value"][1])
        wait_for("memcoord_ticks_total to grow",
                 lambda: float(result(p, "memcoord_ticks_total")[0]["value"][1])
                 > first, 10)
        print(f"memcoord_ticks_total grows from {first:.0f}")

        # promtool on a scrape of the running daemon.
        if args.promtool:
            body = daemon.scrape()
            check = subprocess.run([args.promtool, "check", "metrics"],
                                   input=body, capture_output=True, text=True)
            if check.returncode != 0 or check.stdout or check.stderr:
                raise Failure("promtool check metrics: " + check.stdout +
                              check.stderr)
            print("promtool check metrics: ok")

        # The destroyed guest vanishes from the daemon's next scrape...
        wait_for(f"{DESTROYED} to leave the daemon's /metrics",
                 lambda: (d := daemon_domains(daemon)) is not None
                 and DESTROYED not in d and d,
                 DESTROY_AT_S + 15 - (time.monotonic() - started))
        gone_at = time.time()
        remaining = daemon_domains(daemon)
        if remaining != GUESTS - {DESTROYED}:
            raise Failure(f"daemon domains after destroy: {remaining}")
        print(f"{DESTROYED} gone from the daemon; remaining {sorted(remaining)}")
        # ...and from Prometheus once it has scraped again (staleness).
        wait_for("Prometheus to scrape after the destroy",
                 lambda: last_scrape(p) > gone_at + 0.01, 10)
        left = result(p, f'{{domain="{DESTROYED}"}}')
        if left:
            raise Failure(f"series of {DESTROYED} still in Prometheus: "
                          f"{[s['metric']['__name__'] for s in left]}")
        after = result(p, "memcoord_domain_actual_bytes")
        domains = sorted(s["metric"]["domain"] for s in after)
        if domains != sorted(GUESTS - {DESTROYED}):
            raise Failure(f"actual_bytes series after destroy: {domains}")
        print(f"{DESTROYED} has no series in Prometheus; actual_bytes for "
              f"{domains}")
        if not daemon.alive():
            raise Failure(f"daemon exited with {daemon.proc.returncode}")
    except Failure:
        for proc in (daemon, p):
            print(f"--- {proc.name}.log (tail) ---\n{proc.log_tail()}")
        raise
    finally:
        p.stop()
        daemon.stop()


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
    try:
        run(args, scratch_dir("memcoord-e2e-"))
    except Failure as e:
        print("FAIL:", e)
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())

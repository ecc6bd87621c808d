#!/usr/bin/env python3
"""The dashboard against real data: one memory_coordinator per scenario (one
simulated host each), a real Prometheus on loopback scraping them every second
with the alert rules loaded, then every dashboard query through Prometheus's
HTTP API with the variables substituted the way Grafana does.

Checks:
  - the instance variable lists every daemon; the domain variable lists the
    guests of the selected hosts;
  - with all hosts selected (the fleet), each host ticked and as the All
    option renders it (the variables' allValue), every panel and annotation
    query, as an instant and as a range query, returns at least one series
    with a number, and one for every host, or else series without an
    instance label only (an aggregate over the selected hosts);
  - with one host selected every query returns series of that host only (or
    an aggregate);
  - every alert rule evaluates without error against the real series.

Exit status: 0 pass, 1 fail, 77 skipped (no prometheus binary).
"""
import argparse
import math
import os
import shutil
import sys
import time

import dashboard_queries as dq
import memcoord_stack as stack

SETTLE_SAMPLES = 15     # scrapes of each daemon before querying (1 s apart)
RATE_INTERVAL = "30s"   # $__rate_interval
INTERVAL = "5s"         # $__interval


def grafana_values(instances, domains=".*", all_value=None):
    """Variable values as Grafana renders them into a Prometheus query;
    `all_value` is the instance variable's allValue, for the All option."""
    inst = "|".join(dq.promql_regex_literal(i) for i in instances)
    if len(instances) > 1:
        inst = f"({inst})"
    if all_value is not None:
        inst = all_value
    return {
        "instance": inst, "domain": domains, "datasource": "prometheus",
        "__rate_interval": RATE_INTERVAL, "__interval": INTERVAL,
        "__interval_ms": "5000", "__range": "5m", "__range_s": "300",
        "__range_ms": "300000",
    }


def has_number(result):
    for series in result:
        values = [series["value"]] if "value" in series else series["values"]
        if any(not math.isnan(float(v[1])) for v in values):
            return True
    return False


def check_query(prom, label, expr, instances, at, problems):
    """Runs `expr` as an instant and a range query; returns the series count."""
    instant = prom.query(expr, at=at)["result"]
    ranged = prom.query_range(expr, at - 15, at, 1)["result"]
    for kind, result in (("instant", instant), ("range", ranged)):
        if not result:
            problems.append(f"{label}: {kind} query returned no series: {expr}")
            continue
        if not has_number(result):
            problems.append(f"{label}: {kind} query returned only NaN: {expr}")
        seen = {s["metric"].get("instance") for s in result}
        if seen == {None}:
            continue  # an aggregate over the selected hosts
        missing = set(instances) - seen
        if missing:
            problems.append(f"{label}: {kind} query has no series for "
                            f"{sorted(missing)}: {expr}")
        extra = seen - set(instances) - {None}
        if extra:
            problems.append(f"{label}: {kind} query has series of unselected "
                            f"hosts {sorted(extra)}: {expr}")
    return len(instant)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dashboard", required=True)
    ap.add_argument("--daemon", required=True)
    ap.add_argument("--scenario", action="append", required=True,
                    help="one simulated host per scenario file")
    ap.add_argument("--rules", action="append", default=[])
    ap.add_argument("--prometheus", default="")
    args = ap.parse_args()

    prometheus_bin = args.prometheus or shutil.which("prometheus")
    if not prometheus_bin or not os.access(prometheus_bin, os.X_OK):
        print("SKIP: no prometheus binary")
        return 77

    dashboard = dq.load(args.dashboard)
    workdir = stack.scratch_dir("memcoord-dash-e2e-")
    problems = []
    daemons, prom = [], None
    try:
        for i, scenario in enumerate(args.scenario):
            d = os.path.join(workdir, f"host{i}")
            os.mkdir(d)
            daemons.append(stack.Daemon(args.daemon, scenario, d))
        instances = [d.instance for d in daemons]
        prom_dir = os.path.join(workdir, "prometheus")
        os.mkdir(prom_dir)
        prom = stack.Prometheus(prometheus_bin, instances, prom_dir,
                                rule_files=args.rules)
        print(f"daemons on {', '.join(instances)}; Prometheus on :{prom.port}")
        start = time.monotonic()
        for inst in instances:
            prom.wait_for_samples(
                f'memcoord_ticks_total{{instance="{inst}"}}', SETTLE_SAMPLES, 90)
        print(f"{SETTLE_SAMPLES} scrapes of every daemon after "
              f"{time.monotonic() - start:.0f} s")
        for d in daemons:
            if not d.alive():
                raise stack.Failure(f"daemon {d.instance} exited:\n{d.log_tail()}")

        # Variables.
        listed = prom.api("label/instance/values",
                          **{"match[]": "memcoord_build_info"})
        if sorted(listed) != sorted(instances):
            problems.append(f"instance variable lists {listed}, expected {instances}")
        domains = {}
        for d in daemons:
            scraped = {line.split('domain="')[1].split('"')[0]
                       for line in d.scrape().splitlines()
                       if line.startswith("memcoord_domain_actual_bytes{")}
            sel = dq.substitute(
                'memcoord_domain_actual_bytes{instance=~"$instance"}',
                grafana_values([d.instance]))
            listed = prom.api("label/domain/values", **{"match[]": sel})
            domains[d.instance] = listed
            if not listed or set(listed) != scraped:
                problems.append(f"domain variable for {d.instance} lists "
                                f"{listed}, the daemon exports {sorted(scraped)}")
        print("ok   variables: instance " + ", ".join(instances) + "; domain " +
              "; ".join(f"{k}: {','.join(v)}" for k, v in domains.items()))

        # Every query: the fleet (each host ticked, then All), then each host
        # alone.
        variables = {v["name"]: v for v in dashboard["templating"]["list"]}
        all_value = variables["instance"].get("allValue")
        if not all_value:
            problems.append("the instance variable has no allValue")
        at = time.time()
        selections = [("all hosts", instances, grafana_values(instances))]
        if all_value:
            selections.append((f"All ({all_value})", instances, grafana_values(
                instances, variables["domain"].get("allValue") or ".*",
                all_value)))
        if len(instances) > 1:
            selections += [(i, [i], grafana_values([i])) for i in instances]
        annotations = [a for a in dashboard.get("annotations", {}).get("list", [])
                       if not a.get("builtIn")]
        for name, selected, values in selections:
            count = 0
            items = [(f"panel {panel['id']} {panel['title']!r} query "
                      f"{target['refId']}", target["expr"])
                     for panel, target in dq.queries(dashboard)]
            items += [(f"annotation {a['name']!r}", a.get("expr", ""))
                      for a in annotations]
            for what, raw in items:
                label = f"[{name}] {what}"
                try:
                    expr = dq.substitute(raw, values)
                except KeyError as e:
                    problems.append(f"{label}: no value for variable {e}")
                    continue
                before = len(problems)
                n = check_query(prom, label, expr, selected, at, problems)
                count += 1
                if len(problems) == before:
                    print(f"ok   {label}: {n} series")
                else:
                    print(f"FAIL {label}")
            print(f"---- {name}: {count} queries")

        # Alert rules, evaluated by this Prometheus on the real series.
        if args.rules:
            def evaluated():
                groups = prom.api("rules")["groups"]
                rules = [r for g in groups for r in g["rules"]]
                ok = rules and all(r.get("lastEvaluation", "").startswith("2")
                                   and not r["lastEvaluation"].startswith("0001")
                                   for r in rules)
                return rules if ok else None
            rules = stack.wait_for("every rule to be evaluated", evaluated, 30)
            for r in rules:
                if r.get("health") != "ok":
                    problems.append(f"rule {r['name']}: health {r.get('health')}: "
                                    f"{r.get('lastError')}")
            print(f"ok   {len(rules)} alert rules evaluated on real series"
                  if all(r.get("health") == "ok" for r in rules) else
                  "FAIL alert rules")
    except stack.Failure as e:
        problems.append(str(e))

    for p in problems:
        print("FAIL " + p)
    if problems:
        for proc in daemons + ([prom] if prom else []):
            print(f"---- last lines of {proc.log_path}:\n{proc.log_tail()}")
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())

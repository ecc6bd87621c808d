#!/usr/bin/env python3
"""Lint of the Grafana dashboard against the daemon's real /metrics.

Checks: valid JSON without duplicate keys; a current schemaVersion; the
datasource, instance and domain variables, with a regex for All (allValue);
one Prometheus data source input (__inputs) that only the datasource
variable's default refers to, so that import asks for it and a provisioned
copy, where Grafana substitutes no input, still works; unique panel ids; every
panel inside the 24-column grid and no two panels overlapping; every query
panel, every query and every annotation using the datasource variable; every
variable a query or annotation uses is defined; every metric name in a query
(and in the variable and annotation queries) is one the daemon exports in a
real scrape of it on a scenario; every metric the dashboard must show is
shown; daemon restarts and reloads are annotations; a table shows each guest's
actual, target, usable and maximum memory, class and last action; outside the
row repeated per host, a time series draws at most one line per host (its
legend names no label beside instance), so that 20 hosts stay readable.

--self-test also breaks copies of the dashboard in each of those ways and
requires the lint to report each one, so that the lint itself can fail.

Exit status: 0 pass, 1 fail.
"""
import argparse
import copy
import json
import re
import sys

import dashboard_queries as dq
import memcoord_stack as stack

DATASOURCE_REFS = {"${datasource}", "$datasource"}
GRID_COLUMNS = 24

# What the dashboard must show, as metric names that must
# appear in some query, and threshold names that must be drawn.
REQUIRED_METRICS = [
    "memcoord_host_memory_free_bytes", "memcoord_host_memory_total_bytes",
    "memcoord_threshold_bytes", "memcoord_domain_actual_bytes",
    "memcoord_domain_unused_bytes", "memcoord_domain_usable_bytes",
    "memcoord_balloon_actions_total", "memcoord_balloon_errors_total",
    "memcoord_guardrail_clamps_total", "memcoord_tick_duration_seconds_bucket",
    "memcoord_libvirt_up", "memcoord_domain_stats_age_seconds",
    "memcoord_dry_run", "memcoord_build_info", "memcoord_config_reload_success",
    "memcoord_domain_last_action_timestamp_seconds",
    "memcoord_libvirt_call_duration_seconds_bucket",
    "process_resident_memory_bytes",
]
# The per-guest table: metric names its queries must all use.
GUEST_TABLE_METRICS = [
    "memcoord_domain_actual_bytes", "memcoord_domain_target_bytes",
    "memcoord_domain_usable_bytes", "memcoord_domain_maximum_bytes",
    "memcoord_domain_class", "memcoord_domain_last_action_timestamp_seconds",
]
# Annotations the dashboard must have: (what, a metric its query uses).
REQUIRED_ANNOTATIONS = [
    ("daemon restarts", "process_start_time_seconds"),
    ("configuration reloads", "memcoord_config_reloads_total"),
]
INPUT_REF_RE = re.compile(r"\$\{(DS_\w+)\}")
LEGEND_LABEL_RE = re.compile(r"\{\{\s*(\w+)\s*\}\}")
REQUIRED_THRESHOLDS = ["host_min_free", "starvation", "waste"]


def is_datasource_variable(ds):
    if isinstance(ds, str):
        return ds in DATASOURCE_REFS
    if isinstance(ds, dict):
        return ds.get("uid") in DATASOURCE_REFS and ds.get("type") in (
            None, "prometheus")
    return False


def check_variables(dashboard, errors):
    variables = {v.get("name"): v for v in
                 dashboard.get("templating", {}).get("list", [])}
    ds = variables.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        errors.append("variables: no `datasource` variable of type datasource "
                      "with query prometheus")
    expected = {
        "instance": "label_values(memcoord_build_info, instance)",
        "domain": 'label_values(memcoord_domain_actual_bytes{instance=~"$instance"}, domain)',
    }
    for name, query in expected.items():
        v = variables.get(name)
        if not v:
            errors.append(f"variables: no `{name}` variable")
            continue
        if v.get("type") != "query":
            errors.append(f"variables: `{name}` is not a query variable")
        if not v.get("multi") or not v.get("includeAll"):
            errors.append(f"variables: `{name}` must be multi-select with All")
        elif not v.get("allValue"):
            errors.append(f"variables: `{name}` has All but no allValue (a "
                          "regex such as .+, not a list of every value)")
        if dq.variable_query(v).replace(" ", "") != query.replace(" ", ""):
            errors.append(f"variables: `{name}` query is "
                          f"{dq.variable_query(v)!r}, expected {query!r}")
        if not is_datasource_variable(v.get("datasource")):
            errors.append(f"variables: `{name}` does not use the datasource variable")
    return variables


def check_inputs(dashboard, text, variables, errors):
    """One Prometheus data source input, used only as the datasource
    variable's default."""
    inputs = dashboard.get("__inputs")
    ds_inputs = [i for i in inputs or [] if i.get("type") == "datasource"]
    if len(ds_inputs) != 1 or ds_inputs[0].get("pluginId") != "prometheus" or \
            not ds_inputs[0].get("name"):
        errors.append("__inputs: needs exactly one datasource input with "
                      "pluginId prometheus, so that import asks for it")
        return
    name = ds_inputs[0]["name"]
    declared = {i.get("name") for i in inputs}
    for ref in sorted(set(INPUT_REF_RE.findall(text)) - declared):
        errors.append(f"__inputs: ${{{ref}}} is used but not declared")
    current = (variables.get("datasource") or {}).get("current") or {}
    if current.get("value") != "${" + name + "}":
        errors.append(f"__inputs: the datasource variable's default is "
                      f"{current.get('value')!r}, not ${{{name}}}")
    # Everything else refers to ${datasource}: Grafana substitutes no input
    # in a provisioned dashboard.
    rest = copy.deepcopy(dashboard)
    rest.pop("__inputs", None)
    for v in rest.get("templating", {}).get("list", []):
        if v.get("name") == "datasource":
            v.pop("current", None)
    if "${" + name + "}" in json.dumps(rest):
        errors.append(f"__inputs: ${{{name}}} is used outside the datasource "
                      "variable's default; provisioning would leave it unresolved")


def annotation_queries(dashboard):
    """The annotations that query the data source (the built-in one does
    not)."""
    return [a for a in dashboard.get("annotations", {}).get("list", [])
            if not a.get("builtIn")]


def check_annotations(dashboard, exported, defined, errors):
    used = set()
    for a in annotation_queries(dashboard):
        label = f"annotation {a.get('name')!r}"
        if not is_datasource_variable(a.get("datasource")):
            errors.append(f"{label}: datasource {a.get('datasource')!r} is not "
                          "the ${datasource} variable")
        expr = a.get("expr", "")
        if not expr.strip():
            errors.append(f"{label}: empty expr")
            continue
        for name in dq.variable_names(expr):
            if name not in defined:
                errors.append(f"{label}: undefined variable ${name}")
        for name in dq.metric_names(expr):
            used.add(name)
            if name not in exported:
                errors.append(f"{label}: metric {name} is not exported by the "
                              "daemon")
    for what, metric in REQUIRED_ANNOTATIONS:
        if metric not in used:
            errors.append(f"no annotation marks {what} (from {metric})")


def repeated_panels(dashboard):
    """Ids of the panels inside a row repeated per host (a row's panels are
    the ones after it up to the next row)."""
    ids, inside = set(), False
    for p in dashboard.get("panels", []):
        if p.get("type") == "row":
            inside = bool(p.get("repeat"))
            ids.update(c.get("id") for c in p.get("panels", []) or []
                       if inside)
            continue
        if inside:
            ids.add(p.get("id"))
    return ids


def check_fleet(dashboard, errors):
    """Outside the row repeated per host, a time series draws one line per
    host or an aggregate, never hosts times guests or reasons."""
    repeated = repeated_panels(dashboard)
    for p in dq.all_panels(dashboard):
        if p.get("type") != "timeseries" or p.get("id") in repeated:
            continue
        per_host = []
        for t in p.get("targets") or []:
            labels = set(LEGEND_LABEL_RE.findall(t.get("legendFormat", "")))
            if "instance" not in labels:
                continue
            per_host.append(t.get("refId"))
            if labels - {"instance"}:
                errors.append(
                    f"panel {p.get('id')} {p.get('title')!r} query "
                    f"{t.get('refId')}: outside the per-host row, one line per "
                    f"host at most (legend {t.get('legendFormat')!r})")
        if len(per_host) > 1:
            errors.append(
                f"panel {p.get('id')} {p.get('title')!r}: outside the per-host "
                f"row, one line per host at most, but queries {per_host} each "
                "draw one per host")


def check_guest_table(dashboard, errors):
    for p in dq.all_panels(dashboard):
        if p.get("type") != "table":
            continue
        names = {n for t in p.get("targets") or []
                 for n in dq.metric_names(t.get("expr", ""))}
        if all(m in names for m in GUEST_TABLE_METRICS):
            return
    errors.append("no table panel shows every guest's "
                  + ", ".join(GUEST_TABLE_METRICS))


def check_grid(panels, where, errors):
    boxes = []
    for p in panels:
        g = p.get("gridPos")
        label = f"panel {p.get('id')} {p.get('title')!r}"
        if not isinstance(g, dict) or not all(
                isinstance(g.get(k), int) for k in ("x", "y", "w", "h")):
            errors.append(f"{where}: {label}: gridPos needs integer x, y, w, h")
            continue
        if g["x"] < 0 or g["y"] < 0 or g["w"] < 1 or g["h"] < 1 or \
                g["x"] + g["w"] > GRID_COLUMNS:
            errors.append(f"{where}: {label}: gridPos {g} is outside the grid")
        boxes.append((label, g))
    for i, (la, a) in enumerate(boxes):
        for lb, b in boxes[i + 1:]:
            if a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"] and \
                    a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"]:
                errors.append(f"{where}: {la} overlaps {lb}")


def lint(dashboard, exported):
    """Returns the list of problems (empty when the dashboard is fine).
    `exported`: sample names of a real scrape of the daemon."""
    errors = []
    text = json.dumps(dashboard)
    if not isinstance(dashboard.get("schemaVersion"), int) or \
            dashboard["schemaVersion"] < 36:
        errors.append(f"schemaVersion {dashboard.get('schemaVersion')} is older "
                      "than current Grafana (36 or newer)")
    for key in ("title", "uid"):
        if not dashboard.get(key):
            errors.append(f"dashboard has no {key}")
    variables = check_variables(dashboard, errors)
    defined = set(variables) | dq.BUILTIN_VARIABLES
    check_inputs(dashboard, text, variables, errors)
    check_annotations(dashboard, exported, defined, errors)
    check_guest_table(dashboard, errors)
    check_fleet(dashboard, errors)

    ids = {}
    for p in dq.all_panels(dashboard):
        pid = p.get("id")
        if not isinstance(pid, int):
            errors.append(f"panel {p.get('title')!r} has no integer id")
        elif pid in ids:
            errors.append(f"panel id {pid} is used by {ids[pid]!r} and "
                          f"{p.get('title')!r}")
        else:
            ids[pid] = p.get("title")

    check_grid(dashboard.get("panels", []), "layout", errors)
    for p in dashboard.get("panels", []):
        if p.get("type") == "row" and p.get("panels"):
            check_grid(p["panels"], f"collapsed row {p.get('title')!r}", errors)

    used = set()
    for p in dq.all_panels(dashboard):
        label = f"panel {p.get('id')} {p.get('title')!r}"
        for name in dq.variable_names(p.get("title", "")):
            if name not in defined:
                errors.append(f"{label}: title uses undefined variable ${name}")
        if p.get("type") == "row":
            if p.get("targets"):
                errors.append(f"{label}: a row has queries")
            if p.get("repeat") and p["repeat"] not in variables:
                errors.append(f"{label}: repeats over undefined variable "
                              f"{p['repeat']!r}")
            continue
        if not is_datasource_variable(p.get("datasource")):
            errors.append(f"{label}: datasource {p.get('datasource')!r} is not "
                          "the ${datasource} variable")
        targets = p.get("targets") or []
        if not targets:
            errors.append(f"{label}: no queries")
        refs = [t.get("refId") for t in targets]
        if len(set(refs)) != len(refs):
            errors.append(f"{label}: duplicate refId in {refs}")
        for t in targets:
            where = f"{label} query {t.get('refId')}"
            if "datasource" in t and not is_datasource_variable(t["datasource"]):
                errors.append(f"{where}: datasource {t['datasource']!r} is not "
                              "the ${datasource} variable")
            expr = t.get("expr", "")
            if not expr.strip():
                errors.append(f"{where}: empty expr")
                continue
            for name in dq.variable_names(expr):
                if name not in defined:
                    errors.append(f"{where}: undefined variable ${name}")
            for name in dq.metric_names(expr):
                used.add(name)
                if name not in exported:
                    errors.append(f"{where}: metric {name} is not exported by "
                                  "the daemon")
            for th in REQUIRED_THRESHOLDS:
                if f'name="{th}"' in expr:
                    used.add("threshold:" + th)

    for name, v in variables.items():
        m = dq.LABEL_VALUES_RE.match(dq.variable_query(v))
        if v.get("type") == "query" and m and m.group(1):
            for metric in dq.metric_names(m.group(1)):
                if metric not in exported:
                    errors.append(f"variable {name}: metric {metric} is not "
                                  "exported by the daemon")

    for name in REQUIRED_METRICS:
        if name not in used:
            errors.append(f"no panel shows {name}")
    for th in REQUIRED_THRESHOLDS:
        if "threshold:" + th not in used:
            errors.append(f"no panel draws the {th} threshold")
    return errors


def mutations(dashboard):
    """(what, broken copy, text the lint must report)."""
    def first(d, kind):
        return next(p for p in dq.all_panels(d) if p.get("type") == kind)

    d = copy.deepcopy(dashboard)
    panels = [p for p in dq.all_panels(d) if p.get("type") != "row"]
    panels[1]["id"] = panels[0]["id"]
    yield "duplicate panel id", d, "is used by"

    d = copy.deepcopy(dashboard)
    a, b = [p for p in d["panels"] if p.get("type") == "timeseries"][:2]
    b["gridPos"] = dict(a["gridPos"], x=a["gridPos"]["x"] + 1)
    yield "overlapping panels", d, "overlaps"

    d = copy.deepcopy(dashboard)
    first(d, "timeseries")["datasource"] = {"type": "prometheus", "uid": "P1809F7CD0C75ACF3"}
    yield "hard-coded panel datasource", d, "is not the ${datasource} variable"

    d = copy.deepcopy(dashboard)
    first(d, "timeseries")["targets"][0]["expr"] += " + memcoord_no_such_metric_bytes"
    yield "unknown metric", d, "memcoord_no_such_metric_bytes is not exported"

    d = copy.deepcopy(dashboard)
    first(d, "timeseries")["targets"][0]["expr"] = \
        'memcoord_domain_actual_bytes{host=~"$hostname"}'
    yield "undefined variable", d, "undefined variable $hostname"

    d = copy.deepcopy(dashboard)
    d["templating"]["list"] = [v for v in d["templating"]["list"]
                               if v["name"] != "domain"]
    yield "missing domain variable", d, "no `domain` variable"

    d = copy.deepcopy(dashboard)
    for p in dq.all_panels(d):
        for t in p.get("targets", []) or []:
            t["expr"] = t["expr"].replace('name="starvation"', 'name="waste"')
    yield "starvation line dropped", d, "no panel draws the starvation threshold"

    d = copy.deepcopy(dashboard)
    first(d, "timeseries")["gridPos"]["w"] = 30
    yield "panel wider than the grid", d, "outside the grid"

    d = copy.deepcopy(dashboard)
    del d["__inputs"]
    yield "no data source input", d, "needs exactly one datasource input"

    d = copy.deepcopy(dashboard)
    for v in d["templating"]["list"]:
        if v["name"] == "datasource":
            v["current"] = {}
    yield "input not the datasource default", d, "the datasource variable's default"

    d = copy.deepcopy(dashboard)
    first(d, "timeseries")["targets"][0]["datasource"] = {
        "type": "prometheus", "uid": "${DS_PROMETHEUS}"}
    yield "input used by a query", d, "used outside the datasource variable"

    d = copy.deepcopy(dashboard)
    first(d, "timeseries")["targets"][0]["datasource"] = {
        "type": "prometheus", "uid": "${DS_OTHER}"}
    yield "undeclared input", d, "${DS_OTHER} is used but not declared"

    d = copy.deepcopy(dashboard)
    for v in d["templating"]["list"]:
        if v["name"] == "instance":
            v.pop("allValue", None)
    yield "All without allValue", d, "`instance` has All but no allValue"

    d = copy.deepcopy(dashboard)
    d["annotations"]["list"] = [
        a for a in d["annotations"]["list"]
        if "process_start_time_seconds" not in a.get("expr", "")]
    yield "restart annotation dropped", d, "no annotation marks daemon restarts"

    d = copy.deepcopy(dashboard)
    annotation_queries(d)[0]["datasource"] = {"type": "prometheus",
                                              "uid": "P1809F7CD0C75ACF3"}
    yield "hard-coded annotation datasource", d, "is not the ${datasource} variable"

    d = copy.deepcopy(dashboard)
    for p in dq.all_panels(d):
        if p.get("type") == "table":
            p["targets"] = [t for t in p["targets"] if "last_action" not in t["expr"]]
    yield "guest table without the last action", d, "no table panel shows"

    d = copy.deepcopy(dashboard)
    repeated = repeated_panels(d)
    p = next(p for p in d["panels"]
             if p.get("type") == "timeseries" and p["id"] not in repeated)
    p["targets"][0]["legendFormat"] = "{{instance}} {{domain}}"
    yield "hosts times guests outside the per-host row", d, "one line per host at most"

    d = copy.deepcopy(dashboard)
    repeated = repeated_panels(d)
    p = next(p for p in d["panels"]
             if p.get("type") == "timeseries" and p["id"] not in repeated)
    extra = copy.deepcopy(p["targets"][0])
    extra["refId"] = "Z"
    p["targets"].append(extra)
    yield "two lines per host outside the per-host row", d, "each draw one per host"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dashboard", required=True)
    ap.add_argument("--daemon", required=True, help="memory_coordinator binary")
    ap.add_argument("--scenario", required=True)
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args()

    with open(args.dashboard) as f:
        text = f.read()
    try:
        dashboard = dq.loads(text)
    except ValueError as e:
        print(f"FAIL {args.dashboard}: not valid JSON: {e}")
        return 1

    workdir = stack.scratch_dir("memcoord-lint-")
    try:
        daemon = stack.Daemon(args.daemon, args.scenario, workdir)
        # Wait for a tick with balloon actions, so that every family the
        # scenario produces has samples.
        stack.wait_for("balloon actions in the scrape",
                       lambda: "memcoord_balloon_actions_total{" in daemon.scrape(),
                       30)
        exported = stack.sample_names(daemon.scrape())
        daemon.stop()
    except stack.Failure as e:
        print(f"FAIL: {e}")
        return 1
    print(f"daemon exports {len(exported)} sample names")

    errors = lint(dashboard, exported)
    for e in errors:
        print("FAIL " + e)
    n_queries = sum(1 for _ in dq.queries(dashboard))
    n_panels = sum(1 for _ in dq.all_panels(dashboard))
    if not errors:
        print(f"ok   {n_panels} panels, {n_queries} queries")

    failed = bool(errors)
    if args.self_test:
        try:
            dq.loads(text.replace('"schemaVersion"', '"title": "x", "schemaVersion"', 1))
            print("FAIL self-test: a duplicate key was accepted")
            failed = True
        except dq.DuplicateKey:
            print("ok   self-test: duplicate key refused")
        for what, broken, expected in mutations(dashboard):
            found = [e for e in lint(broken, exported) if expected in e]
            if found:
                print(f"ok   self-test: {what}: {found[0]}")
            else:
                print(f"FAIL self-test: {what}: the lint did not report "
                      f"{expected!r}")
                failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

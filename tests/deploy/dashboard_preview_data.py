#!/usr/bin/env python3
"""Runs the daemon on a scenario with a real Prometheus scraping it, then
evaluates the main panels' queries of the dashboard over the whole run and
writes them for gnuplot: one data file per panel (time, then one column per
series, named by the panel's legend) and a gnuplot script that draws them as
the dashboard does (stacked guests, dashed threshold lines).

Used by render_dashboard_preview.sh; exit status 0 or 1.
"""
import argparse
import math
import os
import re
import shutil
import sys
import time

import dashboard_queries as dq
import memcoord_stack as stack

# (panel title, y scale, y label): the panels shown in the picture.
PANELS = [
    ("Host free memory against its reserve", 1 / 1048576, "MiB"),
    ("Guest memory (stacked) against the host total", 1 / 1048576, "MiB"),
    ("Guest unused and usable memory", 1 / 1048576, "MiB"),
    ("Balloon actions by direction and reason", 60, "actions / min"),
    ("Errors and guardrail clamps", 60, "per min"),
    ("Tick duration", 1000, "ms"),
]
DASHED = {"red": "#f2495c", "orange": "#ff9830", "text": "#d8d9da"}
PALETTE = ["#73bf69", "#f2cc0c", "#8ab8ff", "#ff780a", "#f2495c", "#5794f2",
           "#b877d9", "#705da0", "#37872d", "#fade2a", "#c4162a", "#1f60c4"]


def legend(fmt, metric):
    text = re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: metric.get(m.group(1), ""), fmt)
    return text.strip() or "value"


def override_for(panel, ref):
    for o in panel["fieldConfig"].get("overrides", []):
        if o["matcher"] == {"id": "byFrameRefID", "options": ref}:
            return {p["id"]: p["value"] for p in o["properties"]}
    return {}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dashboard", required=True)
    ap.add_argument("--daemon", required=True)
    ap.add_argument("--scenario", required=True)
    ap.add_argument("--prometheus", default=shutil.which("prometheus") or "")
    ap.add_argument("--duration", type=float, default=180)
    ap.add_argument("--policy", default="seed")
    ap.add_argument("--outdir", required=True)
    ap.add_argument("--png", required=True)
    args = ap.parse_args()

    dashboard = dq.load(args.dashboard)
    by_title = {p.get("title"): p for p in dq.all_panels(dashboard)}
    os.makedirs(args.outdir, exist_ok=True)
    work = stack.scratch_dir("memcoord-preview-")
    daemon = stack.Daemon(args.daemon, args.scenario, work, policy=args.policy)
    prom = stack.Prometheus(args.prometheus, [daemon.instance], work)
    start = time.time()
    print(f"running {os.path.basename(args.scenario)} with policy {args.policy} "
          f"for {args.duration:.0f} s ...", flush=True)
    while time.time() - start < args.duration:
        if not daemon.alive() or not prom.alive():
            raise stack.Failure("a process exited:\n" + daemon.log_tail() +
                                prom.log_tail())
        time.sleep(1)
    end = time.time()
    values = {"instance": dq.promql_regex_literal(daemon.instance),
              "domain": ".*", "__rate_interval": "10s", "__interval": "1s"}

    plots = []
    for title, scale, ylabel in PANELS:
        panel = by_title[title]
        stacked = panel["fieldConfig"]["defaults"]["custom"]["stacking"]["mode"] == "normal"
        series = []  # (legend, style dict, {t: value}, stacked?)
        for target in panel["targets"]:
            expr = dq.substitute(target["expr"], values)
            data = prom.query_range(expr, start, end, 1)["result"]
            ov = override_for(panel, target["refId"])
            for s in sorted(data, key=lambda s: sorted(s["metric"].items())):
                pts = {round(float(t) - start): float(v) * scale
                       for t, v in s["values"] if not math.isnan(float(v))}
                series.append((legend(target["legendFormat"], s["metric"]), ov, pts,
                               stacked and "custom.stacking" not in ov))
        if not series:
            raise stack.Failure(f"panel {title!r}: no data")
        ts = sorted({t for _, _, pts, _ in series for t in pts})
        base = {t: 0.0 for t in ts}
        columns = []
        for name, ov, pts, stack_it in series:
            if stack_it:
                lower = dict(base)
                for t in ts:
                    base[t] += pts.get(t, 0.0)
                columns.append((name, ov, lower, dict(base), True))
            else:
                columns.append((name, ov, None, pts, False))
        path = os.path.join(args.outdir, re.sub(r"\W+", "_", title.lower()) + ".tsv")
        with open(path, "w") as f:
            for t in ts:
                row = [str(t)]
                for _, _, lower, pts, _ in columns:
                    if lower is not None:
                        row.append(f"{lower[t]:.6g}")
                    row.append(f"{pts[t]:.6g}" if t in pts else "NaN")
                f.write("\t".join(row) + "\n")
        cmds, col, color_i = [], 2, 0
        for name, ov, lower, _, filled in columns:
            fixed = ov.get("color", {}).get("fixedColor")
            color = DASHED.get(fixed, fixed) if fixed else PALETTE[color_i % len(PALETTE)]
            if not fixed:
                color_i += 1
            title_s = name.replace('"', "'")
            if filled:
                cmds.append(f"'{path}' using 1:{col}:{col + 1} with filledcurves "
                            f"fs transparent solid 0.45 noborder lc rgb '{color}' "
                            f"title \"{title_s}\"")
                col += 2
                continue
            dash = "dt 2 " if "custom.lineStyle" in ov else ""
            width = ov.get("custom.lineWidth", 1.5)
            cmds.append(f"'{path}' using 1:{col} with lines {dash}lw {width} "
                        f"lc rgb '{color}' title \"{title_s}\"")
            col += 1
        plots.append((title, ylabel, cmds))
        print(f"  {title}: {len(series)} series")

    script = os.path.join(args.outdir, "dashboard.gp")
    with open(script, "w") as f:
        f.write(f"""set terminal pngcairo noenhanced size 1800,1500 font 'DejaVu Sans,10' background '#111217'
set output '{args.png}'
set datafile separator '\\t'
set datafile missing 'NaN'
set border lc rgb '#8e8e8e'
set grid lc rgb '#2c3235' lw 1
set tics textcolor rgb '#ccccdc'
set key textcolor rgb '#ccccdc' outside bottom center horizontal maxcols 4 samplen 2
set xlabel 'seconds' textcolor rgb '#ccccdc'
set xrange [0:{end - start:.0f}]
set multiplot layout 3,2 title "memory_coordinator dashboard: {os.path.basename(args.scenario)}, policy {args.policy}, {end - start:.0f} s (data from Prometheus)" textcolor rgb '#ccccdc' font ',13'
""")
        for title, ylabel, cmds in plots:
            f.write(f"set title \"{title}\" textcolor rgb '#ccccdc' font ',12'\n")
            f.write(f"set ylabel '{ylabel}' textcolor rgb '#ccccdc'\n")
            f.write("set yrange [0:*]\n")
            f.write("plot " + ", \\\n     ".join(cmds) + "\n")
        f.write("unset multiplot\n")
    print(script)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except stack.Failure as e:
        print(f"FAIL: {e}")
        sys.exit(1)

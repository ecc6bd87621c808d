#!/usr/bin/env python3
"""lab_case.py: one lab test case for memory_coordinator against real guests.

Brings up lab guests (deploy/lab/lab.sh up) named PREFIX-1..PREFIX-4, starts the
real memory_coordinator on qemu:///system with a generated configuration that
includes only PREFIX-* (nobody else's guests are touched), runs the case's
workload with memhog inside the guests (lab.sh exec), and samples every second:
each guest's balloon (virsh domstats: actual, unused, usable) and the daemon's
/metrics (target, class, libvirt_up, reconnects). At the end it reads the guests'
OOM kills from their consoles (lab.sh ooms), writes

    OUT/timeline.csv   one row per second: every guest's actual/unused/usable/target
    OUT/timeline.png   every guest's actual (solid) and unused (dashed) over time
    OUT/scores.json    OOM kills, pressure seconds, waste, actions, moved MiB
    OUT/daemon.log     the daemon's stderr
    OUT/config.yaml    the configuration it ran with

checks the case's assertions and tears everything down (daemon killed, guests
destroyed), also when something fails. Exit status: 0 all assertions hold, 1 an
assertion failed, 2 the lab or the daemon could not be set up, 77 virsh, QEMU,
socat or gnuplot is not installed.

Cases (README "The simulator and the scores" has the classic three):
  classic1  one guest allocates to near its maximum while three idle, then frees
  classic2  all four allocate under a tight guest budget
  classic3  all four allocate; two stop at 512 MiB and free, two go on
  restart   libvirtd killed mid-run and started again; also a guest without the
            balloon driver and a guest destroyed mid-run
  hung_guest  one guest's QEMU stopped (its monitor never answers), one paused,
            one killed while it grows, while another allocates
  libvirtd_hung  libvirtd stopped (SIGSTOP) for 30 s, then continued
  balloon_unloaded  rmmod virtio_balloon in one guest while another allocates
  daemon_restart  the daemon SIGKILLed on a squeezed host and started again

Usage (root): lab_case.py CASE [--policy adaptive|seed|mom|proxmox] [--bin PATH]
              [--prefix P] [--out DIR] [--keep-guests] [--no-assert]
  --keep-guests  leave the guests up at the end (a later run reuses them: balloons
                 are set back to the start size and memhogs stopped first)
  --no-assert    only measure (compare_policies.sh scores policies this way)
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
LAB = os.path.normpath(os.path.join(HERE, "..", "..", "deploy", "lab", "lab.sh"))
URI = "qemu:///system"
MIB = 1024 * 1024

MAX_MIB = 2048
START_MIB = 512
INTERVAL_S = 2
FLOOR_MIB = 256          # default per-guest floor (guardrail G4)
# What a lab guest whose workload has ended holds once reclaimed: its kernel
# and userspace (~115 MiB), the MemFree its kernel keeps out of MemAvailable
# (~70 MiB), the adaptive policy's burst headroom at a 2 s interval with
# stats up to 1 s old (100 MiB + 96 MiB/s x 3.25 s = 412 MiB) and up to half
# of that headroom's part above 270 MiB before a trim (71 MiB): 668 MiB.
RECLAIMED_MIB = 700
WASTE_MIB = 300          # waste threshold, for the waste score


class SetupError(Exception):
    """The lab or the daemon could not be brought into the state a case needs."""


class Stop(Exception):
    """A signal (CTest's timeout) asked us to stop; teardown still runs."""


def log(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def sh(cmd, timeout=120, check=True):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise SetupError("%s failed (rc %d): %s" % (" ".join(cmd), p.returncode,
                                                    p.stdout.strip()[-2000:]))
    return p


def lab(*args, timeout=300, check=True):
    return sh([LAB] + [str(a) for a in args], timeout=timeout, check=check)


def guest_exec(guest, command, timeout=60, check=True):
    p = lab("exec", "--timeout", timeout, guest, command, timeout=timeout + 30,
            check=False)
    if check and p.returncode != 0:
        raise SetupError("exec in %s: %r failed (rc %d): %s" %
                         (guest, command, p.returncode, p.stdout.strip()))
    return p


# ---- libvirt and the daemon's metrics ------------------------------------------

def domstats():
    """{name: {key: int}} for every running domain; None if libvirtd is down."""
    try:
        # --nowait: a guest whose QEMU hangs is listed without its balloon
        # statistics instead of holding the call.
        p = subprocess.run(["virsh", "-q", "-c", URI, "domstats", "--balloon",
                            "--state", "--nowait"], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True, timeout=10)
    except subprocess.TimeoutExpired:
        return None
    if p.returncode != 0:
        return None
    out, cur = {}, None
    for line in p.stdout.splitlines():
        m = re.match(r"^Domain: '(.*)'$", line)
        if m:
            cur = out.setdefault(m.group(1), {})
            continue
        if cur is not None and "=" in line:
            k, v = line.strip().split("=", 1)
            try:
                cur[k] = int(v)
            except ValueError:
                pass
    return out


LINE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """[(name, {label: value}, float)] from a Prometheus text exposition."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = LINE_RE.match(line)
        if not m:
            continue
        labels = dict(LABEL_RE.findall(m.group(3) or ""))
        try:
            out.append((m.group(1), labels, float(m.group(4))))
        except ValueError:
            pass
    return out


def metric(series, name, **labels):
    """Sum of the samples of NAME whose labels include LABELS (None: no sample)."""
    vals = [v for n, l, v in series
            if n == name and all(l.get(k) == w for k, w in labels.items())]
    return sum(vals) if vals else None


class Daemon:
    def __init__(self, binary, out_dir, prefix, policy, budget_mib, log_level):
        self.binary = binary
        self.out_dir = out_dir
        self.port = free_port()
        self.url = "http://127.0.0.1:%d/metrics" % self.port
        self.config = os.path.join(out_dir, "config.yaml")
        self.log_path = os.path.join(out_dir, "daemon.log")
        with open(self.config, "w") as f:
            f.write("# generated by tests/lab/lab_case.py\n")
            f.write("connect: %s\n" % URI)
            f.write("interval_s: %d\n" % INTERVAL_S)
            f.write("policy: %s\n" % policy)
            f.write("host:\n  guest_budget_mib: %s\n" %
                    (budget_mib if budget_mib else ""))
            f.write('domains:\n  include: ["%s-*"]\n' % prefix)
            f.write('web:\n  listen: "127.0.0.1:%d"\n' % self.port)
            f.write("log:\n  level: %s\n" % log_level)
        self.proc = None
        self.started_at = None

    def start(self):
        self.logf = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [self.binary, "--config", self.config], stdout=self.logf,
            stderr=subprocess.STDOUT)
        self.started_at = time.monotonic()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SetupError("memory_coordinator exited (rc %d): %s" %
                                 (self.proc.returncode, self.log_text()[-2000:]))
            s = self.scrape()
            if s is not None and (metric(s, "memcoord_ticks_total") or 0) >= 1:
                return
            time.sleep(0.2)
        raise SetupError("memory_coordinator made no tick within 30 s: " +
                         self.log_text()[-2000:])

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def scrape(self, timeout=2):
        try:
            with urllib.request.urlopen(self.url, timeout=timeout) as r:
                return parse_metrics(r.read().decode())
        except Exception:
            return None

    def healthz(self, timeout=1):
        """(status, body) of /healthz; (None, error) when it does not answer."""
        url = self.url.rsplit("/", 1)[0] + "/healthz"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()
        except Exception as e:  # timeout, refused
            return None, str(e)

    def log_text(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.logf.close()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---- sampling -------------------------------------------------------------------

class Sampler(threading.Thread):
    """Every second: the guests' balloons (virsh) and the daemon's metrics."""

    def __init__(self, guests, daemon, t0):
        super().__init__(daemon=True)
        self.guests = guests
        self.daemon_ = daemon
        self.t0 = t0
        self.rows = []
        self.lock = threading.Lock()
        self.halt = threading.Event()

    def run(self):
        while not self.halt.is_set():
            t = time.monotonic()
            row = {"t": t - self.t0, "g": {}, "m": {}}
            stats = domstats()
            row["libvirtd"] = stats is not None
            for g in self.guests:
                s = (stats or {}).get(g)
                if s is None:
                    continue
                e = {"actual": s.get("balloon.current", 0) / 1024.0}
                for k in ("unused", "usable", "available"):
                    if "balloon." + k in s:
                        e[k] = s["balloon." + k] / 1024.0
                row["g"][g] = e
            series = self.daemon_.scrape() if self.daemon_ else None
            if series is not None:
                row["m"]["libvirt_up"] = metric(series, "memcoord_libvirt_up")
                row["m"]["reconnects"] = metric(series,
                                                "memcoord_libvirt_reconnects_total")
                row["m"]["cycles"] = metric(series, "memcoord_ticks_total")
                row["m"]["actions"] = metric(series,
                                             "memcoord_balloon_actions_total")
                row["m"]["moved"] = metric(series,
                                           "memcoord_balloon_moved_bytes_total")
                for g in self.guests:
                    tgt = metric(series, "memcoord_domain_target_bytes", domain=g)
                    if tgt is not None:
                        row["m"]["target:" + g] = tgt / MIB
                    for c in ("starved", "ok", "wasteful", "unknown"):
                        if metric(series, "memcoord_domain_class", domain=g,
                                  **{"class": c}) == 1:
                            row["m"]["class:" + g] = c
                    row["m"]["series:" + g] = any(
                        l.get("domain") == g for _, l, _ in series)
            with self.lock:
                self.rows.append(row)
            self.halt.wait(max(0.0, 1.0 - (time.monotonic() - t)))

    def snapshot(self):
        with self.lock:
            return list(self.rows)


# ---- the run ----------------------------------------------------------------------

class Run:
    def __init__(self, args, case):
        self.args = args
        self.case = case
        self.prefix = args.prefix
        self.guests = ["%s-%d" % (self.prefix, i) for i in range(1, 5)]
        self.out = args.out
        self.daemon = None
        self.sampler = None
        self.t0 = time.monotonic()
        self.events = []          # (t, label) for the plot
        self.failures = []
        self.notes = []           # measured figures printed at the end
        self.ooms_before = {}
        self.ooms = {}
        self.libvirtd_stopped = False
        self.extra_guests = []
        self.shades = []          # (t_from, t_to) shaded in the plot
        self.budget = None
        self.stopped_pids = []    # QEMUs stopped by the case, continued at the end

    def now(self):
        return time.monotonic() - self.t0

    def event(self, label):
        self.events.append((self.now(), label))
        log("t=%.0f s: %s" % (self.now(), label))

    def check(self, ok, what):
        log(("ok:   " if ok else "FAIL: ") + what)
        if not ok:
            self.failures.append(what)

    def note(self, what):
        log("note: " + what)
        self.notes.append(what)

    # lab
    def bring_up(self):
        t = time.monotonic()
        # Guests kept from an earlier run may still hold its workloads and
        # balloon sizes; `up` waits for each balloon to be at the start size,
        # so free them and set it first.
        running = set(lab("list", "--prefix", self.prefix).stdout.split())
        for g in self.guests:
            if g in running:
                guest_exec(g, "memhog stop >/dev/null 2>&1; true", timeout=30,
                           check=False)
                sh(["virsh", "-q", "-c", URI, "setmem", g, "%dM" % START_MIB,
                    "--live"], timeout=60, check=False)
        # Without autodeflate: a guest that deflates its own balloon when it
        # runs short takes memory past its target and past the budget, which
        # the checks below could then not hold the daemon to.
        lab("up", 4, "--prefix", self.prefix, "--max-mib", MAX_MIB,
            "--start-mib", START_MIB, "--no-autodeflate", "--timeout", 240,
            timeout=420)
        running = set(lab("list", "--prefix", self.prefix).stdout.split())
        missing = [g for g in self.guests if g not in running]
        if missing:
            raise SetupError("guests not running after up: %s" % missing)
        self.reset_guests()
        self.note("lab up (4 guests, stats, start size) in %.0f s" %
                  (time.monotonic() - t))

    def reset_guests(self):
        """Stopped memhogs, balloons at the start size: the same state for every
        case, whether the guests are new or reused."""
        for g in self.guests:
            guest_exec(g, "memhog stop >/dev/null 2>&1; true", timeout=30)
            sh(["virsh", "-q", "-c", URI, "setmem", g, "%dM" % START_MIB,
                 "--live"], timeout=60)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            s = domstats() or {}
            if all(g in s and abs(s[g].get("balloon.current", 0) / 1024.0 -
                                  START_MIB) <= 8 and "balloon.unused" in s[g]
                   for g in self.guests):
                break
            time.sleep(0.5)
        else:
            raise SetupError("balloons did not return to %d MiB" % START_MIB)
        for g in self.guests:
            self.ooms_before[g] = self.oom_count(g)

    def oom_count(self, guest):
        p = lab("ooms", guest, check=False)
        m = re.search(r"^%s (\d+)$" % re.escape(guest), p.stdout, re.M)
        return int(m.group(1)) if m else 0

    def start_daemon(self, budget_mib):
        self.daemon = Daemon(self.args.bin, self.out, self.prefix,
                             self.args.policy, budget_mib, "info")
        self.budget = budget_mib
        self.t0 = time.monotonic()
        self.sampler = Sampler(self.guests + self.extra_guests, self.daemon,
                               self.t0)
        self.sampler.start()
        self.daemon.start()
        self.event("daemon started (%s)" % self.args.policy)

    # workload helpers
    def hog_start(self, guest, name, mib, rate):
        guest_exec(guest, "memhog start %s %d %d" % (name, mib, rate))
        self.event("%s: memhog %s to %d MiB at %d MiB/s" % (guest, name, mib, rate))

    def hog_stop(self, guest, name=None):
        guest_exec(guest, "memhog stop" + (" " + name if name else ""),
                   timeout=60, check=False)
        self.event("%s: memhog %s freed" % (guest, name or "(all)"))

    def hog_status(self, guest, name):
        p = guest_exec(guest, "memhog status %s" % name, timeout=20, check=False)
        for line in p.stdout.splitlines():
            f = line.split()
            if len(f) == 6 and f[0] == name:
                return f[2], int(f[3]), int(f[4])
        return None, 0, 0

    def wait_hogs(self, hogs, timeout):
        """Waits until every (guest, name) hog holds its target or is dead.
        Returns {(guest, name): (state, held, target, seconds)}."""
        t = time.monotonic()
        done = {}
        while len(done) < len(hogs):
            if not self.daemon.alive():
                raise SetupError("memory_coordinator died: " +
                                 self.daemon.log_text()[-1500:])
            for h in hogs:
                if h in done:
                    continue
                state, held, target = self.hog_status(*h)
                if state in ("holding", "dead", "unknown", None) or \
                        (state == "growing" and held >= target > 0):
                    done[h] = (state, held, target, time.monotonic() - t)
                    log("%s/%s: %s, %d of %d MiB after %.0f s" %
                        (h[0], h[1], state, held, target, time.monotonic() - t))
            if len(done) < len(hogs):
                if time.monotonic() - t > timeout:
                    for h in hogs:
                        if h not in done:
                            state, held, target = self.hog_status(*h)
                            done[h] = (state, held, target, time.monotonic() - t)
                            log("%s/%s: still %s at %d of %d MiB after %.0f s" %
                                (h[0], h[1], state, held, target, timeout))
                    break
                time.sleep(3)
        return done

    def sleep(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if self.daemon and not self.daemon.alive():
                raise SetupError("memory_coordinator died: " +
                                 self.daemon.log_text()[-1500:])
            time.sleep(min(0.5, end - time.monotonic()))

    def wait_until(self, pred, timeout, step=1.0):
        end = time.monotonic() + timeout
        while True:
            if pred():
                return True
            if time.monotonic() >= end:
                return False
            time.sleep(step)

    def last(self, guest, key):
        for row in reversed(self.sampler.snapshot()):
            e = row["g"].get(guest)
            if e and key in e:
                return e[key]
        return None

    # results
    def finish(self):
        if self.sampler:
            self.sampler.halt.set()
            self.sampler.join(timeout=5)
        for g in self.guests + self.extra_guests:
            try:
                self.ooms[g] = self.oom_count(g) - self.ooms_before.get(g, 0)
            except Exception:
                pass
        rows = self.sampler.snapshot() if self.sampler else []
        write_csv(os.path.join(self.out, "timeline.csv"), rows,
                  self.guests + self.extra_guests)
        scores = compute_scores(rows, self.guests, self.ooms)
        scores["case"] = self.case
        scores["policy"] = self.args.policy
        with open(os.path.join(self.out, "scores.json"), "w") as f:
            json.dump(scores, f, indent=1)
        self.scores = scores
        try:
            plot(os.path.join(self.out, "timeline.csv"),
                 os.path.join(self.out, "timeline.png"),
                 self.guests + self.extra_guests,
                 self.events, self.shades, self.budget, "%s (%s policy)" %
                 (CASE_TITLES[self.case], self.args.policy))
        except Exception as e:
            log("plot failed: %s" % e)
            self.failures.append("plot: %s" % e)

    def teardown(self):
        for pid in self.stopped_pids:
            try:
                os.kill(pid, signal.SIGCONT)
            except OSError:
                pass
        if self.daemon:
            self.daemon.stop()
        if self.libvirtd_stopped:
            lab("start-libvirtd", check=False, timeout=120)
        if self.args.keep_guests:
            for g in self.extra_guests:
                sh(["virsh", "-q", "-c", URI, "destroy", g], check=False)
            return
        lab("down", "--prefix", self.prefix, check=False, timeout=300)


CASE_TITLES = {
    "classic1": "classic 1: one guest busy, three idle",
    "classic2": "classic 2: all four busy, tight budget",
    "classic3": "classic 3: two stop at 512 MiB, two go on",
    "restart": "libvirtd restarted; a guest without balloon driver; one destroyed",
    "hung_guest": "a guest's QEMU stopped, one paused, one killed; one busy",
    "libvirtd_hung": "libvirtd stopped for 30 s, then continued",
    "balloon_unloaded": "a guest's balloon driver unloaded; another busy",
    "daemon_restart": "the daemon SIGKILLed on a squeezed host and started again",
}


def write_csv(path, rows, guests):
    cols = ["t_s", "libvirtd_answers", "libvirt_up", "reconnects", "cycles",
            "sum_actual_mib"]
    for g in guests:
        cols += ["%s_%s_mib" % (g, k) for k in
                 ("actual", "unused", "usable", "target")] + ["%s_class" % g]
    with open(path, "w") as f:
        f.write(",".join(cols) + "\n")
        for r in rows:
            v = ["%.1f" % r["t"], "1" if r.get("libvirtd") else "0",
                 fmt(r["m"].get("libvirt_up")), fmt(r["m"].get("reconnects")),
                 fmt(r["m"].get("cycles"))]
            acts = [r["g"][g]["actual"] for g in guests if g in r["g"]]
            v.append(fmt(sum(acts)) if acts else "")
            for g in guests:
                e = r["g"].get(g, {})
                v += [fmt(e.get(k)) for k in ("actual", "unused", "usable")]
                v += [fmt(r["m"].get("target:" + g)), r["m"].get("class:" + g, "")]
            f.write(",".join(v) + "\n")


def fmt(x):
    if x is None:
        return ""
    return "%.0f" % x if abs(x - round(x)) < 1e-9 else "%.1f" % x


def compute_scores(rows, guests, ooms):
    """The simulator's scores (README "The simulator and the scores") from the per-second samples."""
    pressure = 0.0
    waste_sum, waste_n = 0.0, 0
    prev_t = None
    for r in rows:
        dt = 1.0 if prev_t is None else min(max(r["t"] - prev_t, 0.0), 5.0)
        prev_t = r["t"]
        if not r["g"]:
            continue
        w = 0.0
        for g in guests:
            e = r["g"].get(g)
            if not e or "unused" not in e:
                continue
            free = e.get("usable", e["unused"])
            if free < max(64.0, 0.05 * e["actual"]):
                pressure += dt
            w += max(0.0, e["unused"] - WASTE_MIB)
        waste_sum += w
        waste_n += 1
    ms = [r["m"] for r in rows if r["m"].get("actions") is not None]
    actions = ms[-1]["actions"] - ms[0]["actions"] if ms else 0
    moved = [r["m"] for r in rows if r["m"].get("moved") is not None]
    moved_mib = (moved[-1]["moved"] - moved[0]["moved"]) / MIB if moved else 0
    return {
        "oom_kills": sum(ooms.get(g, 0) for g in guests),
        "pressure_s": round(pressure, 1),
        "waste_mib": round(waste_sum / waste_n, 1) if waste_n else 0,
        "actions": int(actions),
        "moved_mib": round(moved_mib),
        "duration_s": round(rows[-1]["t"] - rows[0]["t"], 1) if rows else 0,
    }


def plot(csv, png, guests, events, shades, budget, title):
    if not shutil.which("gnuplot"):
        raise RuntimeError("gnuplot not installed")
    with open(csv) as f:
        header = f.readline().strip().split(",")
    col = {name: i + 1 for i, name in enumerate(header)}
    colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd"]
    lines = []
    for i, g in enumerate(guests):
        c = colors[i % len(colors)]
        lines.append("'%s' using 1:%d with lines lw 2 lc rgb '%s' title '%s actual'"
                     % (csv, col["%s_actual_mib" % g], c, g))
        lines.append("'%s' using 1:%d with lines lw 1 dt 2 lc rgb '%s' "
                     "title '%s unused'" % (csv, col["%s_unused_mib" % g], c, g))
    script = [
        "set terminal pngcairo size 1100,560 font 'DejaVu Sans,10'",
        "set output '%s'" % png,
        "set datafile separator ','",
        "set datafile missing ''",
        "set title '%s'" % title.replace("'", ""),
        "set xlabel 'time since the daemon started (s)'",
        "set ylabel 'MiB'",
        "set grid",
        "set key outside right top",
        "set yrange [0:%d]" % (MAX_MIB + 200),
    ]
    for i, (t, label) in enumerate(events):
        script.append("set arrow from %.1f, graph 0 to %.1f, graph 1 nohead "
                      "lc rgb '#999999' dt 3" % (t, t))
        script.append("set label %d '%s' at %.1f, graph %.2f font ',7' "
                      "tc rgb '#555555'" % (i + 1, label.replace("'", ""),
                                            t + 1, 0.97 - 0.035 * (i % 8)))
    for t_from, t_to in shades:
        script.append("set object rect from %.1f, graph 0 to %.1f, graph 1 "
                      "behind fc rgb '#f2dede' fs solid 1.0 noborder" %
                      (t_from, t_to))
    if budget:
        # The sum of the guests' memory against the budget, on the right axis.
        script += ["set y2tics", "set ytics nomirror",
                   "set y2label 'MiB (sum of actual, budget)'",
                   "set y2range [0:%d]" % (budget * 1.25)]
        lines.append("'%s' using 1:%d axes x1y2 with lines lw 1 lc rgb '#000000' "
                     "title 'sum of actual (right)'" % (csv, col["sum_actual_mib"]))
        lines.append("%d axes x1y2 with lines lc rgb '#000000' dt 4 "
                     "title 'budget (right)'" % budget)
    script.append("plot " + ", \\\n  ".join(lines))
    p = subprocess.run(["gnuplot"], input="\n".join(script) + "\n", text=True,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=60)
    if p.returncode != 0 or not os.path.exists(png):
        raise RuntimeError("gnuplot failed: " + p.stdout[-1000:])


def series(rows, guest, key, t_from=None, t_to=None):
    out = []
    for r in rows:
        if t_from is not None and r["t"] < t_from:
            continue
        if t_to is not None and r["t"] > t_to:
            continue
        e = r["g"].get(guest)
        if e and key in e:
            out.append((r["t"], e[key]))
    return out


def check_ooms(run, guests):
    for g in guests:
        run.check(run.ooms.get(g, -1) == 0,
                  "%s: no OOM kill (console shows %s)" % (g, run.ooms.get(g)))


def check_budget(run, rows, budget, tolerance_mib):
    """Sum of actual over the guests at every sample stays within the budget.
    Every guest of a sample comes from one domstats call, so the sum is of one
    moment; the tolerance covers KiB rounding of balloon sizes only."""
    worst, worst_t, n = -1e9, None, 0
    for r in rows:
        if not all(g in r["g"] for g in run.guests):
            continue
        s = sum(r["g"][g]["actual"] for g in run.guests)
        n += 1
        if s > worst:
            worst, worst_t = s, r["t"]
    run.check(n > 0 and worst <= budget + tolerance_mib,
              "sum of actual <= budget %d MiB at each of %d samples "
              "(max %.0f MiB at t=%.0f s)" % (budget, n, worst, worst_t or 0))
    return worst


# ---- cases ----------------------------------------------------------------------

def case_classic1(run):
    """One guest allocates to near its maximum, three idle, then it frees.

    Budget 2816 MiB = the busy guest at its 2048 MiB maximum plus three idle
    guests at the 256 MiB floor: the busy guest gets all it needs only if the
    idle ones give back what the budget cannot give it."""
    budget = MAX_MIB + 3 * FLOOR_MIB
    busy, idle = run.guests[0], run.guests[1:]
    hog_mib, rate = 1760, 30
    run.start_daemon(budget)
    run.sleep(6)
    run.hog_start(busy, "busy", hog_mib, rate)
    res = run.wait_hogs([(busy, "busy")], timeout=150)
    state, held, target, took = res[(busy, "busy")]
    run.sleep(10)
    run.event("%s: memhog %s at %d MiB" % (busy, state, held))
    t_free = run.now()
    run.hog_stop(busy, "busy")
    reclaimed = run.wait_until(
        lambda: (run.last(busy, "actual") or MAX_MIB) <= RECLAIMED_MIB,
        timeout=60)
    t_reclaimed = run.now()
    run.sleep(4)
    run.finish()
    rows = run.sampler.snapshot()

    check_ooms(run, run.guests)
    run.check(state in ("holding", "growing") and held >= hog_mib,
              "%s: memhog reached %d MiB (state %s, %d MiB, %.0f s)" %
              (busy, hog_mib, state, held, took))
    peak = max((v for _, v in series(rows, busy, "actual")), default=0)
    run.check(peak >= hog_mib + 80,
              "%s: grew to at least %d MiB (peak %.0f MiB)" %
              (busy, hog_mib + 80, peak))
    # While the busy guest grew, the idle ones gave it what the budget could
    # not: at its peak every MiB of the budget was in use, and each idle
    # guest had given back a good part of its start size. (They keep their
    # burst headroom where the busy guest does not need it, so the floor the
    # guardrails allow is not where they have to end.)
    at_peak = [r for r in rows if busy in r["g"] and
               r["g"][busy]["actual"] >= peak - 1 and
               all(g in r["g"] for g in idle)]
    if at_peak:
        r = at_peak[0]
        used = r["g"][busy]["actual"] + sum(r["g"][g]["actual"] for g in idle)
        run.check(used >= budget - 48,
                  "at %s's peak (t=%.0f s) the guests held %.0f MiB of the "
                  "%d MiB budget (at most 48 MiB left over)" %
                  (busy, r["t"], used, budget))
    else:
        run.check(False, "%s: no sample at its peak" % busy)
    for g in idle:
        low = min((v for _, v in series(rows, g, "actual")), default=MAX_MIB)
        run.check(low <= START_MIB - 128,
                  "%s: gave back at least 128 MiB of its %d MiB (lowest %.0f "
                  "MiB)" % (g, START_MIB, low))
        run.check(low >= FLOOR_MIB - 8,
                  "%s: never below the %d MiB floor (lowest %.0f MiB)" %
                  (g, FLOOR_MIB, low))
    run.check(reclaimed, "%s: memory reclaimed after the free: actual <= %d "
              "MiB within 60 s (%.0f MiB, after %.0f s)" %
              (busy, RECLAIMED_MIB, run.last(busy, "actual") or -1,
               t_reclaimed - t_free))
    check_budget(run, rows, budget, 4)


def case_classic2(run):
    """All four allocate 900 MiB under a guest budget of 4864 MiB. A lab guest
    holding 900 MiB uses about 1015 MiB of its balloon (kernel and userspace
    ~115 MiB), and its kernel keeps ~70 MiB of free memory out of reach
    (MemAvailable runs that far below MemFree), so the four need about 4340
    MiB to live; the budget leaves each ~200 MiB above that, like the
    simulator's classic-2 scenario, but not what a policy would like to give
    (free memory up to near the waste line), so it is reached and must hold."""
    budget = 4864
    hog_mib = 900
    rates = [20, 25, 30, 35]
    run.start_daemon(budget)
    run.sleep(6)
    for i, g in enumerate(run.guests):
        run.hog_start(g, "h", hog_mib, rates[i])
    res = run.wait_hogs([(g, "h") for g in run.guests], timeout=150)
    run.sleep(10)
    t_hold = run.now()
    for g in run.guests:
        run.hog_stop(g, "h")
    run.sleep(20)
    run.finish()
    rows = run.sampler.snapshot()

    check_ooms(run, run.guests)
    for g in run.guests:
        state, held, _, took = res[(g, "h")]
        run.check(state in ("holding", "growing") and held >= hog_mib,
                  "%s: memhog reached %d MiB (state %s, %d MiB, %.0f s)" %
                  (g, hog_mib, state, held, took))
        peak = max((v for _, v in series(rows, g, "actual")), default=0)
        # Holding the workload takes it plus the guest's own ~115 MiB.
        run.check(peak >= hog_mib + 100,
                  "%s: grew from %d MiB to hold its %d MiB workload: at least "
                  "%d MiB (peak %.0f MiB)" %
                  (g, START_MIB, hog_mib, hog_mib + 100, peak))
    worst = check_budget(run, rows, budget, 4)
    run.check(worst >= budget - 256,
              "the budget was tight: the guests came within 256 MiB of it "
              "(max sum %.0f MiB)" % worst)
    del t_hold


def case_classic3(run):
    """All four allocate; guests 3 and 4 stop at 512 MiB and free it, 1 and 2 go
    on to 1400 MiB. Budget 4096 MiB: what 1 and 2 end with is more than the
    budget could give them while 3 and 4 held their peak, so it shows that the
    memory 3 and 4 gave back went to 1 and 2."""
    budget = 4096
    goers, stoppers = run.guests[:2], run.guests[2:]
    run.start_daemon(budget)
    run.sleep(6)
    for g in goers:
        run.hog_start(g, "go", 1400, 25)
    for g in stoppers:
        run.hog_start(g, "stop", 512, 25)
    res_s = run.wait_hogs([(g, "stop") for g in stoppers], timeout=90)
    run.sleep(5)
    t_stop = run.now()
    for g in stoppers:
        run.hog_stop(g, "stop")
    res_g = run.wait_hogs([(g, "go") for g in goers], timeout=150)
    run.sleep(15)
    run.finish()
    rows = run.sampler.snapshot()

    check_ooms(run, run.guests)
    for g in stoppers:
        state, held, _, took = res_s[(g, "stop")]
        run.check(state in ("holding", "growing") and held >= 512,
                  "%s: memhog reached 512 MiB (state %s, %d MiB, %.0f s)" %
                  (g, state, held, took))
    for g in goers:
        state, held, _, took = res_g[(g, "go")]
        run.check(state in ("holding", "growing") and held >= 1400,
                  "%s: memhog reached 1400 MiB (state %s, %d MiB)" %
                  (g, state, held))
    s_peak = max((sum(r["g"][g]["actual"] for g in stoppers) for r in rows
                  if r["t"] <= t_stop and all(g in r["g"] for g in stoppers)),
                 default=0)
    for g in stoppers:
        before = max((v for _, v in series(rows, g, "actual", t_to=t_stop)),
                     default=0)
        after = min((v for _, v in series(rows, g, "actual", t_from=t_stop)),
                    default=MAX_MIB)
        run.check(before >= 512 + 80 and after <= before - 256,
                  "%s: grew to %.0f MiB for its 512 MiB, then gave back down to "
                  "%.0f MiB after the free (at least 256 MiB reclaimed)" %
                  (g, before, after))
    g_max = max((sum(r["g"][g]["actual"] for g in goers) for r in rows
                 if r["t"] >= t_stop and all(g in r["g"] for g in goers)),
                default=0)
    run.check(g_max > budget - s_peak + 128,
              "%s and %s hold %.0f MiB together, more than the %.0f MiB the "
              "budget left them while %s and %s held their peak (%.0f MiB): "
              "the reclaimed memory went to them" %
              (goers[0], goers[1], g_max, budget - s_peak, stoppers[0],
               stoppers[1], s_peak))
    check_budget(run, rows, budget, 4)


def libvirtd_pid():
    try:
        pid = int(open("/run/libvirtd.pid").read().strip())
        if open("/proc/%d/comm" % pid).read().strip() == "libvirtd":
            return pid
    except (OSError, ValueError):
        pass
    return None


def case_restart(run):
    """libvirtd killed (SIGKILL) mid-run and started again; a guest without the
    balloon driver; a guest destroyed mid-run. No budget."""
    nb = run.prefix + "-nb-1"
    run.extra_guests = [nb]
    lab("up", 1, "--prefix", run.prefix + "-nb", "--max-mib", 384,
        "--start-mib", 384, "--no-balloon-driver", "--timeout", 240, timeout=420)
    nb_actual0 = (domstats() or {}).get(nb, {}).get("balloon.current", 0) / 1024.0
    run.start_daemon(None)
    run.sleep(3 * INTERVAL_S)

    # A guest without the balloon driver: class unknown, no action.
    def nb_unknown():
        s = run.daemon.scrape()
        return s is not None and metric(s, "memcoord_domain_class", domain=nb,
                                        **{"class": "unknown"}) == 1
    run.check(run.wait_until(nb_unknown, 10),
              "%s (no balloon driver): memcoord_domain_class{class=\"unknown\"} 1"
              % nb)

    # Balancing works before the outage.
    a = run.guests[0]
    run.hog_start(a, "a", 700, 40)
    res_a = run.wait_hogs([(a, "a")], timeout=90)

    # A guest destroyed mid-run.
    gone = run.guests[3]
    run.sleep(2)
    run.event("virsh destroy %s" % gone)
    t_destroy = time.monotonic()
    sh(["virsh", "-q", "-c", URI, "destroy", gone], timeout=60)

    def series_gone():
        s = run.daemon.scrape()
        return s is not None and not any(l.get("domain") == gone for _, l, _ in s)
    vanished = run.wait_until(series_gone, 4 * INTERVAL_S, step=0.2)
    run.check(vanished, "%s destroyed: its series left /metrics within %d s "
              "(after %.1f s)" % (gone, 4 * INTERVAL_S, time.monotonic() - t_destroy))
    run.check(run.daemon.alive(), "daemon alive after %s was destroyed" % gone)
    run.check("domain %s is gone" % gone in run.daemon.log_text(),
              "daemon logged 'domain %s is gone'" % gone)

    # libvirtd killed.
    s = run.daemon.scrape()
    reconnects0 = metric(s, "memcoord_libvirt_reconnects_total") if s else None
    opens0 = metric(s, "memcoord_libvirt_calls_total", call="virConnectOpen") \
        if s else None
    pid = libvirtd_pid()
    if pid is None:
        raise SetupError("no libvirtd pid in /run/libvirtd.pid to kill")
    log_before = len(run.daemon.log_text())
    run.event("libvirtd killed (SIGKILL)")
    run.libvirtd_stopped = True
    t_kill = time.monotonic()
    os.kill(pid, signal.SIGKILL)

    def up_is(v):
        s = run.daemon.scrape()
        return s is not None and metric(s, "memcoord_libvirt_up") == v
    down_seen = run.wait_until(lambda: up_is(0), 3 * INTERVAL_S, step=0.2)
    run.check(down_seen, "memcoord_libvirt_up 0 within %d s of the kill" %
              (3 * INTERVAL_S))
    run.sleep(8)
    run.check(run.daemon.alive(), "daemon alive while libvirtd is down")
    run.check(run.daemon.scrape() is not None, "/metrics answers while libvirtd "
              "is down")
    outage_log = run.daemon.log_text()[log_before:]
    run.check(re.search(r"(lost|cannot connect|sampling failed)", outage_log)
              is not None, "daemon logged the outage: %r" %
              " | ".join(l for l in outage_log.splitlines()
                         if re.search("lost|cannot connect|sampling failed",
                                      l))[:300])

    run.event("lab.sh start-libvirtd")
    lab("start-libvirtd", timeout=120)
    t_answer = time.monotonic()
    run.libvirtd_stopped = False
    run.event("libvirtd answers")
    run.shades.append((t_kill - run.t0, t_answer - run.t0))
    back = run.wait_until(lambda: up_is(1), 30, step=0.1)
    took = time.monotonic() - t_answer
    run.check(back and took <= 2 * INTERVAL_S,
              "memcoord_libvirt_up 1 %.1f s after libvirtd answered (at most "
              "two intervals, %d s)" % (took, 2 * INTERVAL_S))
    run.note("reconnect: libvirt_up 1 %.1f s after start-libvirtd returned" %
             took)
    s = run.daemon.scrape()
    reconnects1 = metric(s, "memcoord_libvirt_reconnects_total") if s else None
    opens1 = metric(s, "memcoord_libvirt_calls_total", call="virConnectOpen") \
        if s else None
    if opens0 is not None and opens1 is not None:
        run.note("connect attempts during the %.0f s outage: %d" %
                 (t_answer - t_kill, opens1 - opens0))
    run.check(reconnects0 is not None and reconnects1 is not None and
              reconnects1 >= reconnects0 + 1,
              "memcoord_libvirt_reconnects_total went from %s to %s" %
              (reconnects0, reconnects1))
    run.check("reconnected" in run.daemon.log_text()[log_before:],
              "daemon logged the reconnect")

    # Goes on balancing: a later workload gets memory.
    b = run.guests[1]
    b_before = run.last(b, "actual") or 0
    run.hog_start(b, "b", 900, 40)
    res_b = run.wait_hogs([(b, "b")], timeout=90)
    run.sleep(4)
    b_peak = max((v for t, v in series(run.sampler.snapshot(), b, "actual")
                  if t >= run.now() - 60), default=0)
    nb_actions = None
    s = run.daemon.scrape()
    if s is not None:
        nb_actions = metric(s, "memcoord_balloon_actions_total", domain=nb) or 0
    nb_actual1 = (domstats() or {}).get(nb, {}).get("balloon.current", 0) / 1024.0
    nb_class = metric(s, "memcoord_domain_class", domain=nb,
                      **{"class": "unknown"}) if s else None
    log_all = run.daemon.log_text()
    run.finish()

    check_ooms(run, run.guests)
    st, held, _, took_a = res_a[(a, "a")]
    run.check(st in ("holding", "growing") and held >= 700,
              "%s: memhog reached 700 MiB before the outage (%s, %d MiB)" %
              (a, st, held))
    st, held, _, took_b = res_b[(b, "b")]
    run.check(st in ("holding", "growing") and held >= 900,
              "%s: memhog reached 900 MiB after the reconnect (%s, %d MiB, "
              "%.0f s)" % (b, st, held, took_b))
    run.check(b_peak >= 900 + 80 and b_peak > b_before,
              "%s: grew from %.0f to %.0f MiB after the reconnect" %
              (b, b_before, b_peak))
    run.check(nb_actions == 0 and
              not re.search(r"domain %s: \d+ MiB ->" % re.escape(nb), log_all),
              "%s: no balloon action (counter %s, none in the log)" %
              (nb, nb_actions))
    run.check(abs(nb_actual1 - nb_actual0) < 1,
              "%s: balloon untouched (%.0f MiB, then %.0f MiB)" %
              (nb, nb_actual0, nb_actual1))
    run.check(nb_class == 1, "%s: still class unknown at the end" % nb)
    run.check(run.daemon.alive(), "daemon alive at the end")


def qemu_pid(guest):
    """The pid of GUEST's QEMU, from libvirt's pid file (None if not running)."""
    try:
        pid = int(open("/run/libvirt/qemu/%s.pid" % guest).read().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def case_hung_guest(run):
    """One guest's QEMU stopped (SIGSTOP: its monitor never answers), one guest
    paused (virsh suspend), while a third allocates; then the stopped one is
    continued, the paused one resumed, and the fourth guest's QEMU is killed
    while it grows. The busy guest must be served on time throughout, and no
    guest that cannot answer may get a command. No budget."""
    hung, busy, paused, killed = run.guests
    run.start_daemon(None)
    run.sleep(3 * INTERVAL_S)

    def scrape():
        return run.daemon.scrape() or []

    def actions_of(series, g):
        return metric(series, "memcoord_balloon_actions_total", domain=g) or 0

    pid = qemu_pid(hung)
    if pid is None:
        raise SetupError("no QEMU pid for %s" % hung)
    run.event("%s: QEMU stopped (SIGSTOP)" % hung)
    run.stopped_pids.append(pid)
    t_stop = time.monotonic()
    os.kill(pid, signal.SIGSTOP)
    run.event("virsh suspend %s" % paused)
    sh(["virsh", "-q", "-c", URI, "suspend", paused], timeout=60)
    # Commands already on their way when the guests stopped answering are not
    # the daemon's choice; from two intervals on, none may be sent.
    run.sleep(2 * INTERVAL_S)
    s0 = scrape()
    hung_actions0, paused_actions0 = actions_of(s0, hung), actions_of(s0, paused)
    ticks0, t_ticks0 = metric(s0, "memcoord_ticks_total"), time.monotonic()

    run.hog_start(busy, "b", 700, 40)
    res_b = run.wait_hogs([(busy, "b")], timeout=90)
    run.sleep(2 * INTERVAL_S)
    s1 = scrape()
    ticks1, t_ticks1 = metric(s1, "memcoord_ticks_total"), time.monotonic()
    paused_series = any(l.get("domain") == paused for _, l, _ in s1)
    hung_stats = metric(s1, "memcoord_domain_stats_age_seconds", domain=hung)
    hung_actions1, paused_actions1 = actions_of(s1, hung), actions_of(s1, paused)
    busy_peak = max((v for t, v in series(run.sampler.snapshot(), busy, "actual")
                     if t >= t_ticks0 - run.t0), default=0)
    stalled_for = time.monotonic() - t_stop

    run.event("%s: QEMU continued; virsh resume %s" % (hung, paused))
    os.kill(pid, signal.SIGCONT)
    run.stopped_pids.remove(pid)
    sh(["virsh", "-q", "-c", URI, "resume", paused], timeout=60)

    def answered_again():
        s = scrape()
        return all(metric(s, "memcoord_domain_stats_age_seconds", domain=g)
                   is not None for g in (hung, paused))
    t_cont = time.monotonic()
    back = run.wait_until(answered_again, 10 * INTERVAL_S, step=0.5)
    back_after = time.monotonic() - t_cont

    # A guest killed while it grows.
    run.hog_start(killed, "k", 600, 60)
    run.sleep(INTERVAL_S + 1)
    kpid = qemu_pid(killed)
    run.event("%s: QEMU killed (SIGKILL) while it grows" % killed)
    t_kill = time.monotonic()
    if kpid is not None:
        os.kill(kpid, signal.SIGKILL)

    def killed_gone():
        s = run.daemon.scrape()
        return s is not None and not any(l.get("domain") == killed
                                         for _, l, _ in s)
    gone = run.wait_until(killed_gone, 4 * INTERVAL_S, step=0.2)
    gone_after = time.monotonic() - t_kill
    s2 = scrape()
    ticks2 = metric(s2, "memcoord_ticks_total")
    run.sleep(3 * INTERVAL_S)
    ticks3 = metric(scrape(), "memcoord_ticks_total")
    log_all = run.daemon.log_text()
    run.finish()

    check_ooms(run, [hung, busy, paused])
    span = t_ticks1 - t_ticks0
    expected = span / INTERVAL_S
    run.check(ticks0 is not None and ticks1 is not None and
              ticks1 - ticks0 >= expected - 2,
              "ticks kept their period while %s's QEMU was stopped: %s ticks in "
              "%.0f s (at least %.0f)" %
              (hung, None if ticks0 is None or ticks1 is None else ticks1 - ticks0,
               span, expected - 2))
    run.note("%s stopped for %.0f s: %s ticks in %.0f s at a %d s interval" %
             (hung, stalled_for, None if ticks1 is None else ticks1 - ticks0,
              span, INTERVAL_S))
    st, held, _, took = res_b[(busy, "b")]
    run.check(st in ("holding", "growing") and held >= 700,
              "%s: memhog reached 700 MiB while the others hung (%s, %d MiB, "
              "%.0f s)" % (busy, st, held, took))
    run.check(busy_peak >= 700 + 80, "%s: grew to %.0f MiB" % (busy, busy_peak))
    run.check(hung_actions1 == hung_actions0,
              "%s (QEMU stopped): no balloon command (counter %s, then %s)" %
              (hung, hung_actions0, hung_actions1))
    run.check(hung_stats is None,
              "%s (QEMU stopped): no statistics series while it does not answer"
              % hung)
    run.check(paused_actions1 == paused_actions0 and not paused_series,
              "%s (paused): no command, and its series are gone (%s)" %
              (paused, "gone" if not paused_series else "still there"))
    run.check(back, "%s and %s report statistics again %.1f s after they were "
              "continued and resumed" % (hung, paused, back_after))
    run.check(gone, "%s (QEMU killed): its series left /metrics within %d s "
              "(after %.1f s)" % (killed, 4 * INTERVAL_S, gone_after))
    run.check(ticks2 is not None and ticks3 is not None and ticks3 > ticks2,
              "ticks go on after %s was killed (%s, then %s)" %
              (killed, ticks2, ticks3))
    run.check("domain %s is gone" % killed in log_all,
              "daemon logged 'domain %s is gone'" % killed)
    run.check(run.daemon.alive(), "daemon alive at the end")


def case_libvirtd_hung(run):
    """libvirtd stopped (SIGSTOP) for 30 s under a running daemon, then
    continued: the endpoint keeps answering, the outage shows within two
    intervals, nothing is sent on stale data, and the daemon recovers by
    itself. No budget."""
    busy = run.guests[0]
    run.start_daemon(None)
    run.sleep(3 * INTERVAL_S)
    pid = libvirtd_pid()
    if pid is None:
        raise SetupError("no libvirtd pid in /run/libvirtd.pid to stop")
    s = run.daemon.scrape() or []
    actions0 = metric(s, "memcoord_balloon_actions_total") or 0
    run.event("libvirtd stopped (SIGSTOP)")
    run.libvirtd_stopped = True
    t_stop = time.monotonic()
    os.kill(pid, signal.SIGSTOP)
    try:
        down_at, slowest, unanswered, healthz_503 = None, 0.0, 0, None
        while time.monotonic() - t_stop < 30:
            t = time.monotonic()
            series_ = run.daemon.scrape(timeout=1)
            status, body = run.daemon.healthz(timeout=1)
            took = time.monotonic() - t
            slowest = max(slowest, took)
            if series_ is None or status is None:
                unanswered += 1
            elif down_at is None and metric(series_, "memcoord_libvirt_up") == 0:
                down_at = time.monotonic() - t_stop
            if status == 503 and healthz_503 is None:
                healthz_503 = body.strip()
            time.sleep(max(0.0, 1.0 - (time.monotonic() - t)))
        s = run.daemon.scrape() or []
        actions1 = metric(s, "memcoord_balloon_actions_total") or 0
    finally:
        os.kill(pid, signal.SIGCONT)
        run.libvirtd_stopped = False
    t_cont = time.monotonic()
    run.event("libvirtd continued (SIGCONT)")
    run.shades.append((t_stop - run.t0, t_cont - run.t0))

    def up_again():
        s = run.daemon.scrape()
        return s is not None and metric(s, "memcoord_libvirt_up") == 1
    back = run.wait_until(up_again, 30, step=0.2)
    back_after = time.monotonic() - t_cont
    run.hog_start(busy, "a", 700, 40)
    res = run.wait_hogs([(busy, "a")], timeout=90)
    run.sleep(2)
    peak = max((v for t, v in series(run.sampler.snapshot(), busy, "actual")
                if t >= t_cont - run.t0), default=0)
    status_end, _ = run.daemon.healthz()
    run.finish()

    check_ooms(run, run.guests)
    run.check(unanswered == 0 and slowest < 1.0,
              "/metrics and /healthz answered every second within 1 s while "
              "libvirtd was stopped (slowest %.2f s, %d unanswered)" %
              (slowest, unanswered))
    run.check(down_at is not None and down_at <= 2 * INTERVAL_S + 1,
              "memcoord_libvirt_up 0 within two intervals (after %s s)" %
              (None if down_at is None else "%.1f" % down_at))
    run.check(healthz_503 is not None and "libvirt" in healthz_503,
              "/healthz answered 503 naming the cause: %r" % healthz_503)
    run.check(actions1 == actions0,
              "no balloon command while libvirtd was stopped (%s, then %s)" %
              (actions0, actions1))
    run.check(back, "memcoord_libvirt_up 1 again %.1f s after SIGCONT, without "
              "a restart" % back_after)
    st, held, _, took = res[(busy, "a")]
    run.check(st in ("holding", "growing") and held >= 700 and peak >= 780,
              "%s: a workload after the outage is served (%s, %d MiB, grew to "
              "%.0f MiB)" % (busy, st, held, peak))
    run.check(status_end == 200, "/healthz 200 at the end (%s)" % status_end)
    run.check(run.daemon.alive(), "daemon alive at the end")


def case_balloon_unloaded(run):
    """The balloon driver unloaded inside a guest (rmmod virtio_balloon through
    the agent) while another guest allocates: the unloaded guest's statistics
    stop, it gets no further command, and that is logged once. No budget."""
    gone, busy = run.guests[0], run.guests[1]
    run.start_daemon(None)
    run.sleep(3 * INTERVAL_S)
    run.event("%s: rmmod virtio_balloon" % gone)
    p = guest_exec(gone, "rmmod virtio_balloon", timeout=60, check=False)
    if p.returncode != 0:
        raise SetupError("rmmod virtio_balloon in %s failed: %s" %
                         (gone, (p.stdout + p.stderr)[-300:]))
    t_rmmod = time.monotonic()
    # A command already sent may still be counted; from then on, none.
    run.sleep(2 * INTERVAL_S)
    s0 = run.daemon.scrape() or []
    actions0 = metric(s0, "memcoord_balloon_actions_total", domain=gone) or 0
    run.hog_start(busy, "b", 700, 40)
    res = run.wait_hogs([(busy, "b")], timeout=90)
    run.sleep(6 * INTERVAL_S)
    s1 = run.daemon.scrape() or []
    actions1 = metric(s1, "memcoord_balloon_actions_total", domain=gone) or 0
    age = metric(s1, "memcoord_domain_stats_age_seconds", domain=gone)
    unknown = metric(s1, "memcoord_domain_class", domain=gone,
                     **{"class": "unknown"})
    log_after = [l for l in run.daemon.log_text().splitlines()
                 if ("domain %s " % gone) in l and
                 re.search(r"(stale|lost its balloon stats)", l)]
    since = time.monotonic() - t_rmmod
    run.finish()

    check_ooms(run, [busy])
    st, held, _, took = res[(busy, "b")]
    run.check(st in ("holding", "growing") and held >= 700,
              "%s: memhog reached 700 MiB (%s, %d MiB, %.0f s)" %
              (busy, st, held, took))
    run.check(actions1 == actions0,
              "%s (no balloon driver): no balloon command in the %.0f s after "
              "the rmmod (counter %s, then %s)" % (gone, since, actions0,
                                                  actions1))
    run.check((age is None and unknown == 1) or
              (age is not None and age > 3 * INTERVAL_S),
              "%s: its statistics stopped (age %s s, class unknown %s)" %
              (gone, None if age is None else "%.0f" % age, unknown))
    run.check(len(log_after) == 1,
              "%s: the state change logged once: %r" % (gone, log_after))
    run.check(run.daemon.alive(), "daemon alive at the end")


def case_daemon_restart(run):
    """The daemon SIGKILLed on a host whose guests are squeezed, then started
    again: it never resets guests, and its first decisions are ordinary ones,
    not a burst of commands. The guests are squeezed by hand (virsh setmem)
    before the first start, so the case does not depend on how far a policy
    chooses to reclaim idle guests."""
    squeezed_mib = 384
    for g in run.guests:
        sh(["virsh", "-q", "-c", URI, "setmem", g, "%dM" % squeezed_mib,
            "--live"], timeout=60)
    run.wait_until(lambda: all(
        abs((domstats() or {}).get(g, {}).get("balloon.current", 0) / 1024.0 -
            squeezed_mib) <= 8 for g in run.guests), 60, step=0.5)
    run.start_daemon(None)
    run.sleep(4 * INTERVAL_S)

    def sizes():
        s = domstats() or {}
        return {g: s.get(g, {}).get("balloon.current", 0) / 1024.0
                for g in run.guests}
    # Killed once the balloons are at rest: a balloon still on its way to the
    # last target set would move while the daemon is down.
    last = [sizes()]

    def settled():
        now = sizes()
        still = all(abs(now[g] - last[0][g]) < 2 for g in run.guests)
        last[0] = now
        return still
    run.wait_until(settled, 60, step=INTERVAL_S)
    before = sizes()
    run.event("daemon killed (SIGKILL)")
    run.daemon.proc.kill()
    run.daemon.proc.wait(timeout=10)
    time.sleep(3)  # not run.sleep(): that one fails on a dead daemon
    while_down = {g: (domstats() or {}).get(g, {}).get("balloon.current", 0) /
                  1024.0 for g in run.guests}
    shutil.copy(run.daemon.log_path, os.path.join(run.out, "daemon-before.log"))
    run.event("daemon started again")
    run.daemon.start()
    run.sleep(2 * INTERVAL_S + 1)
    s = run.daemon.scrape() or []
    sent = metric(s, "memcoord_balloon_actions_total") or 0
    ticks = metric(s, "memcoord_ticks_total") or 0
    after = {g: (domstats() or {}).get(g, {}).get("balloon.current", 0) / 1024.0
             for g in run.guests}
    moves = re.findall(r"domain (\S+): (\d+) MiB -> (\d+) MiB",
                       run.daemon.log_text())
    run.finish()

    check_ooms(run, run.guests)
    run.check(all(abs(while_down[g] - before[g]) < 8 for g in run.guests),
              "nothing moved while the daemon was down (%s)" % ", ".join(
                  "%s %.0f" % (g, v) for g, v in sorted(while_down.items())))
    biggest = max((abs(int(b) - int(a)) for _, a, b in moves), default=0)
    run.check(sent <= len(run.guests) and biggest <= 256,
              "the first %d ticks after the restart sent %d commands (at most "
              "one per guest), the largest moving %d MiB" %
              (ticks, sent, biggest))
    run.check(all(abs(after[g] - before[g]) <= 256 and
                  after[g] < MAX_MIB - 256 for g in run.guests),
              "no guest was reset: sizes before the kill %s, after the restart "
              "%s (MiB)" % (", ".join("%s %.0f" % (g, v)
                                      for g, v in sorted(before.items())),
                            ", ".join("%s %.0f" % (g, v)
                                      for g, v in sorted(after.items()))))
    run.note("restart: %d commands in the first %d ticks, largest %d MiB" %
             (sent, ticks, biggest))

CASES = {"classic1": case_classic1, "classic2": case_classic2,
         "classic3": case_classic3, "restart": case_restart,
         "hung_guest": case_hung_guest, "libvirtd_hung": case_libvirtd_hung,
         "balloon_unloaded": case_balloon_unloaded,
         "daemon_restart": case_daemon_restart}


def find_bin(given):
    if given:
        return os.path.abspath(given)
    for b in ("./memory_coordinator", "build/memory_coordinator"):
        if os.access(b, os.X_OK):
            return os.path.abspath(b)
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("case", choices=sorted(CASES))
    ap.add_argument("--policy", default="adaptive")
    ap.add_argument("--bin")
    ap.add_argument("--prefix", default="lt")
    ap.add_argument("--out")
    ap.add_argument("--keep-guests", action="store_true")
    ap.add_argument("--no-assert", action="store_true")
    args = ap.parse_args()
    missing = [b for b in ("virsh", "qemu-system-x86_64", "socat", "gnuplot")
               if not shutil.which(b)]
    if missing:
        print("lab_case: skipped, not installed: %s (deploy/lab/install-deps.sh)"
              % " ".join(missing), file=sys.stderr)
        return 77
    if os.geteuid() != 0:
        print("lab_case: must run as root (the lab runs libvirtd and QEMU)",
              file=sys.stderr)
        return 2
    args.bin = find_bin(args.bin)
    if not args.bin or not os.access(args.bin, os.X_OK):
        print("lab_case: memory_coordinator not found; give --bin", file=sys.stderr)
        return 2
    if not re.match(r"^[A-Za-z0-9_.-]+$", args.prefix):
        print("lab_case: bad --prefix", file=sys.stderr)
        return 2
    args.out = os.path.abspath(args.out or os.path.join(
        "lab-out", "%s-%s" % (args.case, args.policy)))
    os.makedirs(args.out, exist_ok=True)

    def on_signal(signum, frame):
        raise Stop("signal %d" % signum)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    run = Run(args, args.case)
    t_start = time.monotonic()
    status = 0
    try:
        log("case %s, policy %s, guests %s-1..4, output %s" %
            (args.case, args.policy, args.prefix, args.out))
        run.bring_up()
        CASES[args.case](run)
    except (SetupError, Stop, subprocess.TimeoutExpired) as e:
        log("ERROR: %s" % e)
        status = 2
    except Exception:
        traceback.print_exc()
        status = 2
    finally:
        try:
            if status != 0 and run.sampler is not None and \
                    not hasattr(run, "scores"):
                run.finish()
        except Exception as e:
            log("writing results failed: %s" % e)
        try:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            run.teardown()
        except Exception as e:
            log("teardown failed: %s" % e)
            status = status or 2
    if hasattr(run, "scores"):
        log("scores: " + json.dumps(run.scores))
    for n in run.notes:
        log("measured: " + n)
    log("output: %s/{timeline.csv,timeline.png,scores.json,daemon.log}" % args.out)
    log("took %.0f s" % (time.monotonic() - t_start))
    if status != 0:
        log("RESULT: error (setup or run), see above")
        return status
    if run.failures and args.no_assert:
        log("RESULT: measured (--no-assert; %d checks would fail: %s)" %
            (len(run.failures), "; ".join(run.failures)))
        return 0
    if run.failures:
        log("RESULT: FAIL (%d): %s" % (len(run.failures), "; ".join(run.failures)))
        return 1
    log("RESULT: pass")
    return 0


if __name__ == "__main__":
    sys.exit(main())

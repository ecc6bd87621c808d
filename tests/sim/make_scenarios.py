#!/usr/bin/env python3
"""Random scenario files for out-of-sample checks of the policies.

Writes COUNT scenario files per class into DIR, named CLASS-SEED-I.yaml
(I from 1 to COUNT). Each class is a kind of real host: roomy or tight,
fast or slow balloons, 2 to 150 guests, intervals of 1, 2, 5 or 10 s, page
cache, swap, shares and floors, guest budgets, guests that start late or
are destroyed, and so on (--list shows them). The same seed always gives the
same files, byte for byte, whatever else is asked for: each file has its own
random stream, derived from its class, the seed and its index.

Every file loads with `memory_coordinator simulate`. Demand fits in every
class but `overcommit`: each guest's peak (base_used + anon + the pressure
line, max(64 MiB, 5 % of max_mib)) fits under its max_mib, and the peaks of
the guests running at the same time, with an allocation counted from its
start and a free from its end, fit beside host_used and the 200 MiB reserve
(and within guest_budget_mib when there is one). Page cache is reclaimable
and not counted. The header comment of each file gives these numbers.

  python3 tests/sim/make_scenarios.py --seed 1 --count 3 --out /tmp/sc
  python3 tests/sim/make_scenarios.py --seed 7 --count 10 --out /tmp/sc \\
      --class fleet --class budget
  build/memory_coordinator simulate /tmp/sc/*.yaml --policy all

Standard library only.
"""

import argparse
import math
import os
import random
import sys

RESERVE_MIB = 200        # host_min_free_mib of the simulator's scores
PRESSURE_MIN_MIB = 64    # a guest is under pressure below max(64 MiB, 5 %)
PRESSURE_FRACTION = 0.05


# ---------------------------------------------------------------------------
# Guests and their workloads.

def pressure_line(max_mib):
    return max(PRESSURE_MIN_MIB, PRESSURE_FRACTION * max_mib)


class Guest:
    """One guest: its keys and a workload written in time order.

    `cap` is the most anonymous memory the workload may hold so that the
    guest's peak still fits under its maximum; the workload helpers below
    never go over it.
    """

    def __init__(self, name, max_mib, start_mib, base_mib, at_s, end_s):
        self.keys = {"name": name}
        if at_s:
            self.keys["at_s"] = at_s
        self.keys.update(max_mib=max_mib, start_mib=start_mib,
                         base_used_mib=base_mib)
        self.max_mib = max_mib
        self.start_mib = start_mib
        self.base_mib = base_mib
        self.at_s = at_s
        self.cap = int(max_mib - base_mib - pressure_line(max_mib) - 16)
        self.ops = []
        self.end_s = end_s  # the scenario's duration: no op after it
        self.t = at_s       # no op before this (the last op, or its end)
        self.anon = 0       # anonymous memory after the last op

    def set(self, **keys):
        self.keys.update(keys)
        return self

    def add(self, at_s, op, **fields):
        """Appends an op at `at_s`, or later if the previous op is still
        freeing; drops it (returns False) when that is after the end."""
        at_s = round(max(at_s, self.t), 1)
        if at_s == int(at_s):
            at_s = int(at_s)
        if at_s > self.end_s:
            return False
        entry = {"at_s": at_s, "op": op}
        entry.update(fields)
        self.ops.append(entry)
        self.t = at_s
        if op == "free" and fields.get("rate_mib_s"):
            # The next op comes after this free is done, so that the demand
            # steps below stay in time order.
            self.t = at_s + fields["mib"] / fields["rate_mib_s"]
        if op == "alloc":
            self.anon += fields["mib"]
        elif op == "free":
            self.anon = max(0, self.anon - fields["mib"])
        elif op in ("free_all", "destroy", "start"):
            self.anon = 0
        assert self.anon <= self.cap, (self.keys["name"], self.anon, self.cap)
        return True


def mib_between(rnd, lo, hi, step=50):
    """A size in [lo, hi] on a `step` grid (lo when the range is empty)."""
    lo, hi = int(lo), int(hi)
    if hi <= lo:
        return max(step, lo // step * step)
    first = (lo + step - 1) // step * step
    last = hi // step * step
    if last < first:
        return max(step, lo)
    return rnd.randrange(first, last + 1, step)


def job(rnd, g, at, mib, rate, hold, end, free_rate=None):
    """Allocate `mib` at `rate` from `at`, hold `hold` s once grown, free."""
    g.add(at, "alloc", mib=mib, rate_mib_s=rate)
    done = at + mib / rate + hold
    if done >= end:
        return end
    if free_rate:
        g.add(done, "free", mib=mib, rate_mib_s=free_rate)
        return done + mib / free_rate
    g.add(done, "free_all")
    return done


def w_bursts(rnd, g, start, end, count, size, rate, hold, gap):
    """`count` jobs one after the other (batch jobs, builds)."""
    t = start
    for _ in range(count):
        if t >= end - 5:
            break
        mib = mib_between(rnd, size[0] * g.cap, size[1] * g.cap)
        t = job(rnd, g, t, mib, rnd.randrange(rate[0], rate[1] + 1, 10),
                rnd.randint(*hold), end)
        t += rnd.randint(*gap)


def w_steady(rnd, g, start, end):
    """One long allocation at a moderate rate, kept or given back slowly."""
    mib = mib_between(rnd, 0.3 * g.cap, 0.9 * g.cap)
    rate = rnd.choice([10, 15, 20, 30, 40, 60])
    hold = rnd.randint(30, 150)
    free_rate = rnd.choice([None, 20, 50, 100])
    job(rnd, g, start, mib, rate, hold, end, free_rate)


def w_leak(rnd, g, start, end):
    """A slow leak, never given back."""
    rate = rnd.choice([1, 2, 3, 4, 5])
    mib = mib_between(rnd, 0.3 * g.cap, min(g.cap, rate * (end - start)))
    g.add(start, "alloc", mib=mib, rate_mib_s=rate)


def w_sawtooth(rnd, g, start, end):
    """A garbage-collected heap: live set, then fill-and-collect cycles."""
    live = mib_between(rnd, 0.1 * g.cap, 0.3 * g.cap)
    g.add(start, "alloc", mib=live, rate_mib_s=100)
    t = start + live / 100 + 2
    while True:
        garbage = mib_between(rnd, 0.3 * g.cap, g.cap - live)
        rate = rnd.choice([40, 60, 80, 100, 120, 150])
        fill = garbage / rate
        if t + fill + 1 > end:
            break
        g.add(t, "alloc", mib=garbage, rate_mib_s=rate)
        t += fill + 1
        g.add(t, "free", mib=garbage)
        t += rnd.randint(1, 6)


def w_cache(rnd, g, start, end):
    """Page cache fills (a file server, a backup), then maybe an allocation
    evicts it, and maybe the cache is dropped."""
    g.add(start, "cache", mib=mib_between(rnd, 0.3 * g.max_mib, g.max_mib),
          rate_mib_s=rnd.choice([20, 40, 80, 150]))
    t = start + rnd.randint(30, 120)
    if t < end - 10 and rnd.random() < 0.7:
        mib = mib_between(rnd, 0.3 * g.cap, 0.9 * g.cap)
        t = job(rnd, g, t, mib, rnd.choice([20, 40, 60, 100]),
                rnd.randint(20, 100), end)
    t += rnd.randint(10, 60)
    if t < end and rnd.random() < 0.4:
        g.add(t, "drop_cache")


def w_mixed(rnd, g, start, end):
    """Any of the everyday workloads."""
    kind = rnd.choices(["idle", "burst", "steady", "leak", "sawtooth",
                        "cache"], weights=[3, 3, 3, 1, 1, 2])[0]
    if kind == "burst":
        w_bursts(rnd, g, start, end, rnd.randint(1, 3), (0.3, 1.0),
                 (60, 200), (10, 60), (20, 80))
    elif kind == "steady":
        w_steady(rnd, g, start, end)
    elif kind == "leak":
        w_leak(rnd, g, start, end)
    elif kind == "sawtooth":
        w_sawtooth(rnd, g, start, end)
    elif kind == "cache":
        w_cache(rnd, g, start, end)
    return kind


# ---------------------------------------------------------------------------
# Demand: what has to fit.

def demand_steps(g):
    """(time, demand) steps of one guest: base + anon + pressure line while
    it runs, an allocation counted in full from its start and a free from
    its end (so the sum errs toward not fitting)."""
    line = pressure_line(g.max_mib)
    running = not g.at_s
    anon = 0
    steps = [(g.at_s, g.base_mib + line)]
    for op in g.ops:
        t = op["at_s"]
        kind = op["op"]
        if kind == "alloc":
            anon += op["mib"]
        elif kind == "free":
            if op.get("rate_mib_s"):
                t += op["mib"] / op["rate_mib_s"]
            anon = max(0, anon - op["mib"])
        elif kind == "free_all":
            anon = 0
        elif kind == "destroy":
            running, anon = False, 0
        elif kind == "start":
            running, anon = True, 0
        else:
            continue
        steps.append((t, g.base_mib + anon + line if running else 0))
    return steps


def running_steps(g):
    """(time, start_mib or 0): what a guest holds at least when it boots."""
    steps = [(g.at_s, g.start_mib)]
    for op in g.ops:
        if op["op"] == "destroy":
            steps.append((op["at_s"], 0))
        elif op["op"] == "start":
            steps.append((op["at_s"], g.start_mib))
    return steps


def peak_of_sum(per_guest):
    """The largest sum over guests of step functions (time, value)."""
    events = []
    for steps in per_guest:
        prev = 0
        for t, v in sorted(steps, key=lambda s: s[0]):
            events.append((t, v - prev))
            prev = v
    events.sort(key=lambda e: e[0])
    total = peak = 0
    i = 0
    while i < len(events):
        t = events[i][0]
        while i < len(events) and events[i][0] == t:
            total += events[i][1]
            i += 1
        peak = max(peak, total)
    return peak


def guest_peak(g):
    return max(v for _, v in demand_steps(g))


# ---------------------------------------------------------------------------
# Scenario classes.

def round_up(mib, step=1024):
    return int(math.ceil(mib / step) * step)


class Scenario:
    def __init__(self, rnd, name, duration_s, interval_s):
        self.rnd = rnd
        self.name = name
        self.duration_s = duration_s
        self.interval_s = interval_s
        self.guests = []
        self.defaults = {"balloon_rate_mib_s": 200, "swap_mib": 0,
                         "stats": True}
        self.host_used = 1024
        self.total = None
        self.budget = None
        self.notes = []

    def guest(self, max_mib, start_mib=None, base_mib=None, at_s=0):
        rnd = self.rnd
        if base_mib is None:
            base_mib = mib_between(rnd, 0.04 * max_mib, 0.1 * max_mib, 8)
            base_mib = max(48, min(base_mib, 1024))
        if start_mib is None:
            start_mib = mib_between(rnd, max(base_mib + 128, 0.2 * max_mib),
                                    0.5 * max_mib, 128)
        start_mib = min(max(start_mib, base_mib + 64), max_mib)
        g = Guest("vm%03d" % (len(self.guests) + 1), max_mib, start_mib,
                  base_mib, at_s, self.duration_s)
        self.guests.append(g)
        return g

    # Demand numbers.
    def need(self):
        return peak_of_sum([demand_steps(g) for g in self.guests])

    def boot_need(self):
        return peak_of_sum([running_steps(g) for g in self.guests])

    def at_zero(self):
        return sum(g.start_mib for g in self.guests if not g.at_s)

    def size_host(self, slack):
        """Host total from the demand: peak demand (or what booted guests
        hold) times 1 + slack, beside host_used and the reserve."""
        need = max(self.need(), self.boot_need())
        self.total = round_up(need * (1 + slack) + self.host_used +
                              RESERVE_MIB)

    def size_host_free(self, free_fraction):
        """Host total so that `free_fraction` of it is free at the start,
        and never below what the demand needs."""
        held = self.at_zero() + self.host_used
        self.total = round_up(held / (1 - free_fraction))
        self.size_at_least(0.0)

    def size_at_least(self, slack):
        need = max(self.need(), self.boot_need())
        self.total = max(self.total, round_up(need * (1 + slack) +
                                              self.host_used + RESERVE_MIB))

    def fits(self):
        for g in self.guests:
            if guest_peak(g) > g.max_mib:
                return False
        room = self.total - self.host_used - RESERVE_MIB
        need = self.need()
        if need > room or self.boot_need() > room:
            return False
        return self.budget is None or need <= self.budget


def c_roomy(sc):
    """Roomy host: 60-80 % of it free at the start, 2-24 guests with
    everyday workloads."""
    rnd = sc.rnd
    for _ in range(rnd.randint(2, 24)):
        g = sc.guest(rnd.choice([1024, 2048, 2048, 4096]))
        w_mixed(rnd, g, rnd.randint(5, sc.duration_s // 2), sc.duration_s)
    sc.host_used = rnd.choice([1024, 2048])
    sc.size_host_free(rnd.uniform(0.6, 0.8))


def c_tight(sc):
    """Tight host: the overlapping peaks leave only 2-10 % spare."""
    rnd = sc.rnd
    for _ in range(rnd.randint(2, 16)):
        g = sc.guest(rnd.choice([1024, 2048, 3072]))
        w_mixed(rnd, g, rnd.randint(5, sc.duration_s // 2), sc.duration_s)
    sc.host_used = rnd.choice([512, 1024])
    sc.size_host(rnd.uniform(0.02, 0.10))


def c_ci(sc):
    """CI runners: builds of 900-1,500 MiB at 100-180 MiB/s, up to three
    per runner at staggered times, each freed when it ends."""
    rnd = sc.rnd
    n = rnd.randint(4, 32)
    step = max(2, (sc.duration_s // 3) // n)
    for i in range(n):
        g = sc.guest(4096, start_mib=rnd.choice([512, 768, 1024]),
                     base_mib=rnd.choice([160, 200, 256]))
        w_bursts(rnd, g, 5 + i * step + rnd.randint(0, step), sc.duration_s,
                 3, (900 / g.cap, 1500 / g.cap), (100, 180), (20, 70),
                 (10, 45))
    sc.host_used = 2048
    sc.size_host_free(rnd.uniform(0.5, 0.8))


def c_fleet(sc):
    """A fleet: 64-150 small guests, most running one job of 300-1,500 MiB
    at 5-190 MiB/s at a time spread over the run."""
    rnd = sc.rnd
    for _ in range(rnd.randint(64, 150)):
        g = sc.guest(2048, start_mib=rnd.choice([384, 512, 512, 640, 768]),
                     base_mib=rnd.randrange(64, 161, 8))
        if rnd.random() < 0.1:
            continue
        end = sc.duration_s - 10
        at = rnd.randint(5, int(0.65 * sc.duration_s))
        mib = mib_between(rnd, 300, min(1500, g.cap))
        job(rnd, g, at, mib, rnd.choice([5, 10, 20, 40, 60, 90, 120, 150,
                                         190]),
            rnd.randint(20, 90), end, rnd.choice([None, 25, 50, 100]))
    sc.host_used = 4096
    sc.size_host_free(rnd.uniform(0.3, 0.6))


def c_slow_balloon(sc):
    """Slow balloons (TCG guests, a loaded host): 20-60 MiB/s."""
    rnd = sc.rnd
    for _ in range(rnd.randint(3, 12)):
        g = sc.guest(rnd.choice([2048, 2560, 3072]))
        g.set(balloon_rate_mib_s=rnd.choice([20, 25, 30, 40, 50, 60]))
        if rnd.random() < 0.75:
            w_steady(rnd, g, rnd.randint(5, sc.duration_s // 2),
                     sc.duration_s)
    sc.size_host(rnd.uniform(0.15, 0.8))


def c_fast_balloon(sc):
    """Fast balloons (an idle KVM host): 500-2,000 MiB/s, sudden bursts."""
    rnd = sc.rnd
    for _ in range(rnd.randint(3, 12)):
        g = sc.guest(rnd.choice([2048, 4096]))
        g.set(balloon_rate_mib_s=rnd.choice([500, 1000, 2000]))
        w_bursts(rnd, g, rnd.randint(5, sc.duration_s // 2), sc.duration_s,
                 rnd.randint(1, 3), (0.3, 1.0), (100, 300), (10, 60),
                 (20, 80))
    sc.size_host(rnd.uniform(0.1, 0.6))


def c_long_interval(sc):
    """A long interval (5 or 10 s): allocations at 30-60 MiB/s on several
    guests."""
    rnd = sc.rnd
    for _ in range(rnd.randint(3, 12)):
        g = sc.guest(rnd.choice([2048, 3072, 4096]))
        if rnd.random() < 0.7:
            mib = mib_between(rnd, 0.4 * g.cap, g.cap)
            job(rnd, g, rnd.randint(5, sc.duration_s // 2), mib,
                rnd.choice([30, 40, 50, 60]), rnd.randint(30, 150),
                sc.duration_s, rnd.choice([None, None, 40, 60]))
    sc.size_host(rnd.uniform(0.15, 0.8))


def c_budget(sc):
    """A guest budget (G6) below what the host has, shared by guests with
    different shares and floors; the overlapping peaks fit within it."""
    rnd = sc.rnd
    for _ in range(rnd.randint(3, 10)):
        g = sc.guest(rnd.choice([2048, 3072, 4096]))
        g.set(shares=rnd.choice([250, 500, 1000, 1000, 2000, 3000]))
        if rnd.random() < 0.5:
            g.set(min_mib=mib_between(rnd, 256, g.start_mib, 128))
        if rnd.random() < 0.4:
            g.set(swap_mib=rnd.choice([512, 1024]))
        w_mixed(rnd, g, rnd.randint(5, sc.duration_s // 2), sc.duration_s)
    floors = sum(max(g.keys.get("min_mib", 256), 256) for g in sc.guests)
    sc.budget = int(max(round_up(sc.need() * rnd.uniform(1.02, 1.15), 256),
                        round_up(sc.at_zero(), 256), floors))
    sc.total = round_up((sc.budget + sc.host_used) * rnd.uniform(1.3, 2.0))
    sc.size_at_least(0.0)


def c_cache(sc):
    """Page cache: file servers and backups fill their memory with cache,
    then some allocate (evicting it) and some drop it."""
    rnd = sc.rnd
    for _ in range(rnd.randint(3, 10)):
        g = sc.guest(rnd.choice([2048, 3072, 4096]))
        if rnd.random() < 0.75:
            w_cache(rnd, g, rnd.randint(2, sc.duration_s // 3),
                    sc.duration_s)
        else:
            w_mixed(rnd, g, rnd.randint(5, sc.duration_s // 2),
                    sc.duration_s)
    sc.size_host(rnd.uniform(0.1, 0.8))


def c_swap(sc):
    """Guests with swap: an allocation that does not fit swaps (and
    thrashes) instead of being OOM-killed."""
    rnd = sc.rnd
    for _ in range(rnd.randint(3, 10)):
        g = sc.guest(rnd.choice([2048, 3072]))
        g.set(swap_mib=rnd.choice([256, 512, 1024, 2048]))
        w_mixed(rnd, g, rnd.randint(5, sc.duration_s // 2), sc.duration_s)
    sc.size_host(rnd.uniform(0.05, 0.5))


def c_mixed_sizes(sc):
    """Mixed sizes: 512 MiB appliances next to 4 GiB and 8-16 GiB guests."""
    rnd = sc.rnd
    for _ in range(rnd.randint(4, 20)):
        size = rnd.choice([512, 512, 512, 4096, 8192, 12288, 16384])
        if size == 512:
            g = sc.guest(512, start_mib=384, base_mib=rnd.choice([48, 60, 80]))
        else:
            g = sc.guest(size)
        w_mixed(rnd, g, rnd.randint(5, sc.duration_s // 2), sc.duration_s)
    sc.host_used = 2048
    sc.size_host(rnd.uniform(0.1, 1.0))


def c_churn(sc):
    """Guests come and go: late starts (at_s), destroys, and guests booted
    again under the same name."""
    rnd = sc.rnd
    for _ in range(rnd.randint(4, 16)):
        late = rnd.random() < 0.6
        at = rnd.randint(10, int(0.6 * sc.duration_s)) if late else 0
        g = sc.guest(rnd.choice([2048, 4096]), at_s=at)
        t = at + rnd.randint(2, 20)
        mib = mib_between(rnd, 0.3 * g.cap, g.cap)
        job(rnd, g, t, mib, rnd.choice([20, 40, 60, 100]),
            rnd.randint(20, 100), sc.duration_s)
        end = g.t + rnd.randint(10, 60)
        if end < sc.duration_s and rnd.random() < 0.6:
            g.add(end, "destroy")
            back = end + rnd.randint(10, 60)
            if back < sc.duration_s - 20 and rnd.random() < 0.5:
                g.add(back, "start")
                mib = mib_between(rnd, 0.3 * g.cap, g.cap)
                job(rnd, g, back + rnd.randint(2, 10), mib,
                    rnd.choice([20, 40, 60]), rnd.randint(20, 80),
                    sc.duration_s)
    sc.size_host(rnd.uniform(0.1, 0.8))


def c_sawtooth(sc):
    """Garbage-collected workloads: the heap fills and is collected every
    few seconds to a minute."""
    rnd = sc.rnd
    for _ in range(rnd.randint(2, 10)):
        g = sc.guest(rnd.choice([2048, 3072, 4096]))
        if rnd.random() < 0.7:
            w_sawtooth(rnd, g, rnd.randint(2, 60), sc.duration_s - 5)
    sc.size_host(rnd.uniform(0.1, 0.8))


def c_stats(sc):
    """Statistics that disappear and come back, and guests that never
    report any."""
    rnd = sc.rnd
    for _ in range(rnd.randint(3, 12)):
        g = sc.guest(rnd.choice([2048, 3072]))
        if rnd.random() < 0.2:
            # No policy may touch a guest without statistics (G5), so its
            # workload fits in what it boots with.
            g.start_mib = mib_between(rnd, 0.5 * g.max_mib, 0.8 * g.max_mib,
                                      128)
            g.set(stats=False, start_mib=g.start_mib)
            g.cap = int(g.start_mib - g.base_mib -
                        pressure_line(g.start_mib) - 16)
        w_mixed(rnd, g, rnd.randint(5, sc.duration_s // 2), sc.duration_s)
        if g.keys.get("stats", True) and rnd.random() < 0.5:
            # Insert an outage among the workload's ops, in time order.
            off = rnd.randint(10, sc.duration_s - 20)
            on = min(sc.duration_s, off + rnd.randint(5, 60))
            ops = g.ops + [{"at_s": off, "op": "stats", "on": False},
                           {"at_s": on, "op": "stats", "on": True}]
            g.ops = sorted(ops, key=lambda o: o["at_s"])
    sc.size_host(rnd.uniform(0.1, 0.8))


def c_overcommit(sc):
    """Over-committed on purpose: the overlapping peaks exceed what the
    host (or the guest budget) can give by 9-25 %; most guests have swap."""
    rnd = sc.rnd
    for _ in range(rnd.randint(3, 16)):
        g = sc.guest(rnd.choice([2048, 3072, 4096]))
        if rnd.random() < 0.8:
            g.set(swap_mib=rnd.choice([512, 1024, 2048]))
        if rnd.random() < 0.3:
            g.set(shares=rnd.choice([500, 1000, 2000]))
        g.start_mib = mib_between(rnd, g.base_mib + 128, 0.3 * g.max_mib, 128)
        g.keys["start_mib"] = g.start_mib
        t = rnd.randint(5, sc.duration_s // 4)
        mib = mib_between(rnd, 0.5 * g.cap, g.cap)
        job(rnd, g, t, mib, rnd.choice([20, 30, 40, 60]),
            rnd.randint(60, 200), sc.duration_s)
    need = sc.need()
    room = need * rnd.uniform(0.80, 0.92)
    at_zero = sc.at_zero()
    if rnd.random() < 0.5:
        sc.budget = int(max(round_up(room, 256), round_up(at_zero, 256)))
        sc.total = round_up((sc.budget + sc.host_used) * 1.5)
    else:
        sc.total = max(round_up(room + sc.host_used + RESERVE_MIB, 256),
                       round_up(max(at_zero, sc.boot_need()) + sc.host_used +
                                RESERVE_MIB, 256))


# name: (builder, intervals, duration range, demand fits)
CLASSES = {
    "roomy": (c_roomy, (1, 2, 2, 5, 10), (240, 480), True),
    "tight": (c_tight, (1, 2, 2, 5, 10), (240, 480), True),
    "ci": (c_ci, (1, 2, 2, 5), (360, 600), True),
    "fleet": (c_fleet, (1, 2, 2, 5), (240, 360), True),
    "slow-balloon": (c_slow_balloon, (1, 2, 2, 5), (300, 480), True),
    "fast-balloon": (c_fast_balloon, (1, 2, 5), (240, 360), True),
    "long-interval": (c_long_interval, (5, 5, 10), (300, 600), True),
    "budget": (c_budget, (1, 2, 2, 5), (240, 480), True),
    "cache": (c_cache, (1, 2, 5), (240, 480), True),
    "swap": (c_swap, (1, 2, 5), (240, 480), True),
    "mixed-sizes": (c_mixed_sizes, (1, 2, 2, 5), (240, 480), True),
    "churn": (c_churn, (1, 2, 2, 5), (300, 480), True),
    "sawtooth": (c_sawtooth, (1, 2, 2, 5), (240, 400), True),
    "stats": (c_stats, (1, 2, 5), (240, 400), True),
    "overcommit": (c_overcommit, (1, 2, 5), (300, 480), False),
}


def make(cls, seed, index):
    builder, intervals, durations, fits = CLASSES[cls]
    name = "%s-%d-%d" % (cls, seed, index)
    for attempt in range(50):
        # A string seed is hashed with SHA-512 by random.seed: the same on
        # every run and every Python 3 version, whatever PYTHONHASHSEED says.
        rnd = random.Random("%s/%d" % (name, attempt))
        duration = rnd.randrange(durations[0], durations[1] + 1, 20)
        sc = Scenario(rnd, name, duration, rnd.choice(intervals))
        builder(sc)
        # The sizing makes the demand fit (or not) by construction; a draw
        # whose start sizes alone decide otherwise is drawn again.
        if sc.fits() == fits:
            validate(sc)
            return sc
    raise AssertionError("%s: no draw with demand that %s" % (
        name, "fits" if fits else "does not fit"))


def validate(sc):
    """The loader's own checks, so that a bad file fails here first."""
    assert 0 < sc.interval_s <= sc.duration_s
    assert sc.host_used < sc.total
    assert sc.at_zero() + sc.host_used <= sc.total
    names = set()
    for g in sc.guests:
        k = g.keys
        assert k["name"] not in names
        names.add(k["name"])
        assert k["base_used_mib"] < k["start_mib"] <= k["max_mib"], k
        assert k.get("min_mib", 0) <= k["max_mib"]
        assert 0 <= k.get("shares", 0) <= 50000
        assert g.at_s <= sc.duration_s
        prev = g.at_s
        for op in g.ops:
            assert prev <= op["at_s"] <= sc.duration_s, (k["name"], op)
            prev = op["at_s"]


# ---------------------------------------------------------------------------
# Output.

GUEST_KEYS = ["name", "at_s", "max_mib", "start_mib", "base_used_mib",
              "balloon_rate_mib_s", "swap_mib", "stats", "min_mib", "shares"]


def fmt(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return str(int(v)) if v == int(v) else "%.1f" % v
    return str(v)


def flow(d):
    return "{" + ", ".join("%s: %s" % (k, fmt(v)) for k, v in d.items()) + "}"


def wrap(text, width=76):
    words, lines, line = text.split(), [], ""
    for w in words:
        if line and len(line) + 1 + len(w) > width:
            lines.append(line)
            line = w
        else:
            line = (line + " " + w) if line else w
    if line:
        lines.append(line)
    return lines


def render(sc, cls, seed, index):
    builder, _, _, fits = CLASSES[cls]
    need = int(sc.need())
    room = sc.total - sc.host_used - RESERVE_MIB
    largest = max(sc.guests, key=lambda g: guest_peak(g) / g.max_mib)
    head = [
        "Generated by tests/sim/make_scenarios.py --seed %d --class %s, "
        "file %d." % (seed, cls, index),
        "Class %s: %s" % (cls, " ".join(builder.__doc__.split())),
        "%d guests, interval %s s, %d s, host %d MiB of which the host uses "
        "%d%s." % (len(sc.guests), fmt(sc.interval_s), sc.duration_s,
                   sc.total, sc.host_used,
                   ", guest budget %d MiB" % sc.budget if sc.budget else ""),
        "Demand %s: the peaks of the guests running at the same time (base "
        "+ anon + max(64 MiB, 5 %% of max)) come to at most %d MiB against "
        "%d MiB the host can give%s; the fullest guest, %s, peaks at %d of "
        "its %d MiB." % (
            "fits" if fits else "does not fit (over-committed on purpose)",
            need, room,
            " and the %d MiB budget" % sc.budget if sc.budget else "",
            largest.keys["name"], guest_peak(largest), largest.max_mib),
    ]
    out = []
    for para in head:
        out.extend(("# " + l) for l in wrap(para))
    out.append("name: %s" % sc.name)
    out.append("duration_s: %d" % sc.duration_s)
    out.append("interval_s: %s" % fmt(sc.interval_s))
    out.append("host: {total_mib: %d, host_used_mib: %d}" % (sc.total,
                                                             sc.host_used))
    if sc.budget:
        out.append("guest_budget_mib: %d" % sc.budget)
    out.append("defaults:")
    for k, v in sc.defaults.items():
        out.append("  %s: %s" % (k, fmt(v)))
    out.append("guests:")
    for g in sc.guests:
        keys = [k for k in GUEST_KEYS if k in g.keys]
        if not g.ops:
            out.append("  - " + flow({k: g.keys[k] for k in keys}))
            continue
        out.append("  - name: %s" % g.keys["name"])
        for k in keys[1:]:
            out.append("    %s: %s" % (k, fmt(g.keys[k])))
        out.append("    workload:")
        for op in g.ops:
            out.append("      - " + flow(op))
    return "\n".join(out) + "\n"


def main(argv):
    parser = argparse.ArgumentParser(
        prog="make_scenarios.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="classes: " + ", ".join(CLASSES) + " (--list describes them)")
    parser.add_argument("--seed", type=int, required=True,
                        help="random seed; the same seed gives the same files")
    parser.add_argument("--count", type=int, default=1,
                        help="files per class (default 1)")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="directory to write into (created if needed); "
                        "files of the same name are overwritten")
    parser.add_argument("--class", dest="classes", action="append",
                        metavar="NAME",
                        help="only this class (repeat, or separate with "
                        "commas); default every class")
    parser.add_argument("--list", action="store_true",
                        help="list the classes with what each models, and "
                        "exit")
    if "--list" in argv:
        for name, (builder, intervals, durations, fits) in CLASSES.items():
            print("%-14s %s (intervals %s s, %d-%d s%s)" % (
                name, " ".join(builder.__doc__.split()),
                "/".join(str(i) for i in sorted(set(intervals))),
                durations[0], durations[1],
                "" if fits else ", demand does not fit"))
        return 0
    args = parser.parse_args(argv)
    classes = []
    for item in args.classes or list(CLASSES):
        for name in item.split(","):
            name = name.strip()
            if name not in CLASSES:
                parser.error("unknown class '%s'; one of: %s" % (
                    name, ", ".join(CLASSES)))
            if name not in classes:
                classes.append(name)
    if args.count < 1:
        parser.error("--count must be at least 1")
    os.makedirs(args.out, exist_ok=True)
    for cls in classes:
        for i in range(1, args.count + 1):
            sc = make(cls, args.seed, i)
            path = os.path.join(args.out, "%s-%d-%d.yaml" % (cls, args.seed,
                                                            i))
            with open(path, "w") as f:
                f.write(render(sc, cls, args.seed, i))
    print("wrote %d files to %s" % (len(classes) * args.count, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

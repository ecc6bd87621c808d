#!/usr/bin/env python3
"""Writes the binary seed inputs of the structured fuzz targets
(corpus/guest_params/seed-*, corpus/guardrails/seed-*) in the byte layout that
fuzz_input.h reads. The text targets' seeds are plain files. Rerun after a
change to the layout: python3 tests/fuzz/seeds.py"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
NAMES = ["balloon.current", "balloon.maximum", "balloon.rss", "balloon.unused",
         "balloon.usable", "balloon.available", "balloon.swap_in",
         "balloon.swap_out", "balloon.major_fault", "balloon.minor_fault",
         "balloon.last-update", "balloon.disk_caches", "state.state"]
ULLONG = 3


def u64(v):
    return struct.pack(">Q", v & 0xFFFFFFFFFFFFFFFF)


def param(name, value, typ=ULLONG):
    # name index, type, no type mismatch (1 % 16 != 0), Value() case 2:
    # Range(0, 2^40) = U64 % (2^40 + 1), so a small value encodes as itself.
    return bytes([NAMES.index(name), typ, 1, 2]) + u64(value)


def guest(fields, tail=b""):
    body = b"".join(param(n, v) for n, v in fields)
    return bytes([len(fields)]) + body + tail


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


full = [("balloon.current", 2097152), ("balloon.maximum", 4194304),
        ("balloon.rss", 1500000), ("balloon.unused", 800000),
        ("balloon.usable", 1200000), ("balloon.available", 2000000),
        ("balloon.swap_in", 0), ("balloon.swap_out", 0),
        ("balloon.major_fault", 12), ("balloon.minor_fault", 3400),
        ("balloon.last-update", 1700000000)]
write("guest_params", "seed-full", guest(full, bytes(24)))
write("guest_params", "seed-no-stats",
      guest([("balloon.current", 1048576), ("balloon.maximum", 2097152)]))
absurd = [("balloon.current", 1048576), ("balloon.maximum", 2097152),
          ("balloon.unused", 4000000), ("balloon.available", 1000000)]
write("guest_params", "seed-unused-above", guest(absurd))
write("guest_params", "seed-zero-maximum",
      guest([("balloon.current", 1048576), ("balloon.maximum", 0),
             ("balloon.unused", 500000)]))


def rails_seed(guests, actions):
    # params: min_unused, host_min_free, fraction, stale, budget flag
    out = u64(102400) + u64(204800) + u64(499) + u64(23) + bytes([0])
    out += u64(0) + u64(8 << 20)  # time_s, host total
    out += bytes([0]) + u64(1 << 20)  # host free: case 0
    out += u64(len(guests))
    for actual, unused in guests:
        out += u64(actual - 1) + bytes([1]) + u64(1 << 20)  # actual, maximum
        out += bytes([1]) + bytes([0]) + u64(unused)  # stats, unused (case 0)
        out += bytes([0, 0])  # no usable, no stats time
        out += u64(262144) + bytes([0]) + bytes([1])  # floor, no max, managed
    out += u64(len(actions))
    for domain, delta in actions:
        # target = actual + size_kib(), case 2: Range(-2^40, 2^40)
        out += u64(domain) + bytes([1, 2]) + u64((1 << 40) + delta) + u64(0)
    return out


write("guardrails", "seed-two-guests",
      rails_seed([(2097152, 1500000), (1048576, 50000)], [(0, -600000), (1, 300000)]))
write("guardrails", "seed-empty", b"")

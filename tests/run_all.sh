#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine, as root: installs the
# packages, builds with warnings as errors, starts libvirtd for the lab tests
# (Prometheus is started by the tests that need it), and runs every CTest test.
# Usage: tests/run_all.sh [extra ctest arguments, e.g. -L unit]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

deploy/install-deps.sh
cmake --preset ci
cmake --build --preset ci -j "$(nproc)"
if [[ -x deploy/lab/lab.sh ]]; then
  deploy/lab/lab.sh start-libvirtd
fi
ctest --preset ci -j 2 --timeout 1500 "$@"
# Sanitizers: the unit, sim and metrics tests again under ASan+UBSan, then
# TSan (each build holds only those test binaries and the daemon); then each
# libFuzzer target for 20 s from its corpus (clang build of the parsers only).
for preset in asan tsan fuzz; do
  cmake --preset "$preset"
  cmake --build --preset "$preset" -j "$(nproc)"
  ctest --preset "$preset" -j 2
done

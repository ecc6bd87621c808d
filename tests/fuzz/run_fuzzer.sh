#!/usr/bin/env bash
# Runs one libFuzzer binary for a bounded time, starting from the corpus kept
# in the repository; new inputs and crash reproducers stay in WORKDIR.
# Usage: run_fuzzer.sh FUZZER SECONDS WORKDIR CORPUS_DIR
set -euo pipefail
fuzzer=$1
seconds=$2
work=$3
corpus=$4
mkdir -p "$work/corpus" "$work/artifacts"
# -rss_limit_mb: the daemon's parsers have no business with 2 GB; -timeout:
# one input that takes seconds is a bug (a hang) worth a reproducer.
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -max_len=8192 -print_final_stats=1 \
  -artifact_prefix="$work/artifacts/" "$work/corpus" "$corpus"

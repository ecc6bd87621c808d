#!/usr/bin/env bash
# Installs every Debian 12 package that building memory_coordinator and
# running its whole test suite need. Idempotent; run as root.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps.sh: run as root (apt-get install needs it)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  build-essential cmake ninja-build pkg-config git \
  libvirt-dev libxml2-dev prometheus-cpp-dev libcivetweb-dev libssl-dev zlib1g-dev \
  libyaml-cpp-dev \
  libcli11-dev libspdlog-dev nlohmann-json3-dev \
  libgtest-dev libgmock-dev libbenchmark-dev \
  prometheus curl openssl wrk gnuplot-nox jq python3 procps time systemd \
  help2man lintian adduser init-system-helpers util-linux

# The lab (real libvirtd, QEMU, a guest kernel from Debian's archive).
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [[ -x "$here/lab/install-deps.sh" ]]; then
  "$here/lab/install-deps.sh"
fi

# Sanitizer and fuzz builds (tests/run_all.sh, presets asan, tsan, fuzz):
# clang with libFuzzer and the sanitizer runtimes.
apt-get install -y -qq --no-install-recommends clang libclang-rt-14-dev

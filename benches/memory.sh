#!/usr/bin/env bash
# benches/memory.sh: resident memory of natrium and nats-server holding 10,000 idle
# connections, and one connection with 100,000 subscriptions. Each measurement starts
# a fresh server on loopback, runs benches/memory_load.py against it and reads VmRSS.
#
# Environment: NATRIUM_BIN [target/release/natrium], NATS_SERVER_BIN [nats-server],
# CONNS [10000], SUBS [100000], ROUNDS [3]
set -euo pipefail
cd "$(dirname "$0")/.."
NATRIUM_BIN=${NATRIUM_BIN:-target/release/natrium}
NATS_SERVER_BIN=${NATS_SERVER_BIN:-nats-server}
CONNS=${CONNS:-10000}
SUBS=${SUBS:-100000}
ROUNDS=${ROUNDS:-3}
PORT=${PORT:-15222}
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
out=$(mktemp -d -t natrium-memory.XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; }
trap cleanup EXIT

run_one() { # server mode count
    local server=$1 mode=$2 count=$3
    case $server in
        natrium) "$NATRIUM_BIN" -a 127.0.0.1 -p "$PORT" >"$out/$server.log" 2>&1 & ;;
        nats-server) "$NATS_SERVER_BIN" -a 127.0.0.1 -p "$PORT" >"$out/$server.log" 2>&1 & ;;
    esac
    pid=$!
    for _ in $(seq 100); do
        (exec 3<>/dev/tcp/127.0.0.1/"$PORT") 2>/dev/null && break
        sleep 0.05
    done
    python3 benches/memory_load.py "$mode" "$PORT" "$pid" "$count" |
        sed "s/^{/{\"server\": \"$server\", /" >>"$out/results.jsonl"
    kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
}

echo "== resident memory: natrium vs nats-server ($(date -u '+%Y-%m-%d %H:%M UTC'), nproc $(nproc))"
for r in $(seq "$ROUNDS"); do
    for server in natrium nats-server; do
        run_one "$server" conns "$CONNS"
        run_one "$server" subs "$SUBS"
    done
done
python3 - "$out/results.jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def med(server, mode):
    v = [r["rss_after_kib"] for r in rows if r["server"] == server and r["mode"] == mode]
    d = [r["bytes_per_item"] for r in rows if r["server"] == server and r["mode"] == mode]
    return statistics.median(v), statistics.median(d)
print(f"{'workload':<22}{'natrium RSS':>14}{'nats RSS':>12}{'ratio':>8}{'natrium B/item':>16}{'nats B/item':>13}")
for mode, label in (("conns", "idle connections"), ("subs", "subscriptions")):
    n, nb = med("natrium", mode)
    g, gb = med("nats-server", mode)
    count = rows[0]["count"] if mode == "conns" else [r for r in rows if r["mode"] == mode][0]["count"]
    print(f"{label + ' ' + str(count):<22}{n/1024:>11.1f} MiB{g/1024:>9.1f} MiB{n/g:>8.2f}{nb:>16.0f}{gb:>13.0f}")
print("ratio < 1: natrium uses less memory")
PY
echo "raw results: $out/results.jsonl"

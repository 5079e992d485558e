#!/usr/bin/env bash
# benches/compare.sh: natrium against the reference nats-server, same client.
#
# Starts both servers on loopback from identical generated configs, runs the
# same `natrium bench` workloads against each with --json --server-pid,
# alternating the two servers over ROUNDS rounds, and prints medians:
# throughput, server CPU per message, and for reqrep the p50/p99 latencies.
# The JetStream workloads (js-pub-sync, js-pub-async, kv) run with JetStream
# enabled on both servers (store directories in OUT_DIR); js-pub also runs
# against a third server, nats-server with `jetstream { sync_interval: always }`
# (fsync before every PubAck, as natrium does by default), when that nats-server
# accepts the option (2.10+; 2.9 does not, and the script says so).
# Builds nothing. See benches/README.md for the method.
#
# Usage: benches/compare.sh [--cluster] [--help]
#
# Environment (defaults in brackets):
#   NATRIUM_BIN      natrium server binary [target/release/natrium]
#   NATS_SERVER_BIN  reference server [nats-server]
#   BENCH_BIN        binary providing `bench` [$NATRIUM_BIN]
#   ROUNDS           rounds, each runs every workload on both servers [3]
#   MSGS             messages per throughput run [1000000]
#   REQS             requests per sequential reqrep run [20000]
#   SIZE             payload bytes [16]
#   WORKLOADS        labels to run [pub pubsub fanout mpmc reqrep reqrep-c16
#                    js-pub-sync js-pub-async kv js-consume]
#   JS_MSGS          messages per js-pub-sync run [5000]; js-pub-async and
#                    js-consume: x10
#   KV_KEYS          keys per kv run (put, then get) [5000]
#   JS_WINDOW        PubAcks in flight for js-pub-async [256]
#   JS_BATCH         messages per pull request for js-consume [100]
#   JS_STORAGE       file or memory, for js-pub, kv and js-consume [file]
#   PIN              1: pin server and bench to different CPUs for reqrep [1]
#   NATRIUM_PORT     [14222]      NATS_PORT [24222]      NATS_SYNC_PORT [34222]
#   OUT_DIR          where configs, logs and results.jsonl go [mktemp -d]

set -euo pipefail

usage() { sed -n '2,/^$/{s/^# \{0,1\}//;p}' "$0"; }

CLUSTER=0
for arg in "$@"; do
    case "$arg" in
        --cluster) CLUSTER=1 ;;
        -h | --help) usage; exit 0 ;;
        *) echo "compare.sh: unknown argument: $arg" >&2; usage >&2; exit 2 ;;
    esac
done
if [[ $CLUSTER == 1 ]]; then
    echo "cluster mode: not yet available"
    exit 0
fi

NATRIUM_BIN=${NATRIUM_BIN:-target/release/natrium}
NATS_SERVER_BIN=${NATS_SERVER_BIN:-nats-server}
BENCH_BIN=${BENCH_BIN:-$NATRIUM_BIN}
ROUNDS=${ROUNDS:-3}
MSGS=${MSGS:-1000000}
REQS=${REQS:-20000}
SIZE=${SIZE:-16}
WORKLOADS=${WORKLOADS:-"pub pubsub fanout mpmc reqrep reqrep-c16 js-pub-sync js-pub-async kv js-consume"}
JS_MSGS=${JS_MSGS:-5000}
KV_KEYS=${KV_KEYS:-5000}
JS_WINDOW=${JS_WINDOW:-256}
JS_BATCH=${JS_BATCH:-100}
JS_STORAGE=${JS_STORAGE:-file}
NATS_SYNC_PORT=${NATS_SYNC_PORT:-34222}
PIN=${PIN:-1}
NATRIUM_PORT=${NATRIUM_PORT:-14222}
NATS_PORT=${NATS_PORT:-24222}
OUT_DIR=${OUT_DIR:-$(mktemp -d -t natrium-compare.XXXXXX)}
NPROC=$(nproc)

for bin in "$NATRIUM_BIN" "$NATS_SERVER_BIN" "$BENCH_BIN"; do
    if ! command -v "$bin" >/dev/null 2>&1; then
        echo "compare.sh: not found or not executable: $bin" >&2
        exit 2
    fi
done
for n in "$ROUNDS" "$MSGS" "$REQS" "$SIZE" "$JS_MSGS" "$KV_KEYS" "$JS_WINDOW" "$JS_BATCH"; do
    if ! [[ $n =~ ^[1-9][0-9]*$ ]]; then
        echo "compare.sh: ROUNDS, MSGS, REQS, SIZE, JS_MSGS, KV_KEYS, JS_WINDOW and JS_BATCH must be positive integers" >&2
        exit 2
    fi
done
if [[ $JS_STORAGE != file && $JS_STORAGE != memory ]]; then
    echo "compare.sh: JS_STORAGE must be file or memory" >&2
    exit 2
fi
mkdir -p "$OUT_DIR"
RESULTS="$OUT_DIR/results.jsonl"
: >"$RESULTS"

# Bench flags of each workload label.
workload_args() {
    case "$1" in
        pub) echo "pub --msgs $MSGS --size $SIZE" ;;
        pubsub) echo "pubsub --msgs $MSGS --size $SIZE" ;;
        fanout) echo "fanout --subs 4 --msgs $MSGS --size $SIZE" ;;
        mpmc) echo "mpmc --pubs 4 --subs 4 --msgs $MSGS --size $SIZE" ;;
        reqrep) echo "reqrep --msgs $REQS --size $SIZE" ;;
        reqrep-c16) echo "reqrep --concurrency 16 --msgs $((REQS * 5)) --size $SIZE" ;;
        js-pub-sync) echo "js-pub --window 1 --msgs $JS_MSGS --size $SIZE --storage $JS_STORAGE" ;;
        js-pub-async) echo "js-pub --window $JS_WINDOW --msgs $((JS_MSGS * 10)) --size $SIZE --storage $JS_STORAGE" ;;
        kv) echo "kv --msgs $KV_KEYS --size $SIZE --storage $JS_STORAGE" ;;
        js-consume) echo "js-consume --batch $JS_BATCH --msgs $((JS_MSGS * 10)) --size $SIZE --storage $JS_STORAGE" ;;
        *) return 1 ;;
    esac
}
is_latency() { [[ $1 == reqrep* ]]; }
is_js() { [[ $1 == js-* || $1 == kv ]]; }
for w in $WORKLOADS; do
    workload_args "$w" >/dev/null || { echo "compare.sh: unknown workload label: $w" >&2; exit 2; }
done

declare -A PID PORT BIN
SERVERS=(natrium nats-server)
PORT[natrium]=$NATRIUM_PORT
PORT[nats-server]=$NATS_PORT
BIN[natrium]=$NATRIUM_BIN
BIN[nats-server]=$NATS_SERVER_BIN
WANT_JS=0
for w in $WORKLOADS; do
    if is_js "$w"; then WANT_JS=1; fi
done
# nats-server fsyncing before every PubAck, for js-pub: only if it accepts
# `sync_interval` (nats-server 2.10+).
SYNC_NOTE=""
if [[ $WANT_JS == 1 ]]; then
    printf 'jetstream { store_dir: "%s", sync_interval: always }\n' "$OUT_DIR/probe-js" \
        >"$OUT_DIR/sync-probe.conf"
    if probe=$("$NATS_SERVER_BIN" -t -c "$OUT_DIR/sync-probe.conf" 2>&1); then
        SERVERS+=(nats-sync)
        PORT[nats-sync]=$NATS_SYNC_PORT
        BIN[nats-sync]=$NATS_SERVER_BIN
        SYNC_NOTE="nats-sync = nats-server with jetstream { sync_interval: always }"
    else
        SYNC_NOTE="nats-server $("$NATS_SERVER_BIN" --version 2>&1 | head -n 1 | awk '{print $NF}') does not accept jetstream { sync_interval: always } ($(echo "$probe" | head -n 1 | sed 's/^nats-server: //')); js-pub runs against its default only (fsync every 2 min)"
    fi
fi

cleanup() {
    local s
    for s in "${SERVERS[@]}"; do
        if [[ -n ${PID[$s]:-} ]] && kill -0 "${PID[$s]}" 2>/dev/null; then
            kill "${PID[$s]}" 2>/dev/null || true
            wait "${PID[$s]}" 2>/dev/null || true
        fi
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The same minimal config for both servers; only the port differs. With a
# JetStream workload, JetStream is on (fresh store directory per start).
write_config() {
    cat >"$OUT_DIR/$1.conf" <<EOF
# generated by benches/compare.sh
listen: "127.0.0.1:$2"
EOF
    if [[ $WANT_JS == 1 ]]; then
        rm -rf "$OUT_DIR/$1-js"
        local sync=""
        [[ $1 == nats-sync ]] && sync=", sync_interval: always"
        echo "jetstream { store_dir: \"$OUT_DIR/$1-js\"$sync }" >>"$OUT_DIR/$1.conf"
    fi
}

start_server() {
    local s=$1 i
    write_config "$s" "${PORT[$s]}"
    "${BIN[$s]}" -c "$OUT_DIR/$s.conf" >>"$OUT_DIR/$s.log" 2>&1 &
    PID[$s]=$!
    for ((i = 0; i < 100; i++)); do
        if ! kill -0 "${PID[$s]}" 2>/dev/null; then
            echo "compare.sh: $s exited at startup; log:" >&2
            tail -n 20 "$OUT_DIR/$s.log" >&2
            exit 1
        fi
        if (exec 3<>"/dev/tcp/127.0.0.1/${PORT[$s]}") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "compare.sh: $s did not open 127.0.0.1:${PORT[$s]} within 10 s" >&2
    exit 1
}

# Restarts a server that died during a run (the run is recorded as failed).
ensure_running() {
    local s=$1
    if ! kill -0 "${PID[$s]}" 2>/dev/null; then
        echo "  !! $s (pid ${PID[$s]}) died; restarting it" >&2
        wait "${PID[$s]}" 2>/dev/null || true
        start_server "$s"
    fi
}

pin_server() { # server, cpu list
    if [[ $PIN == 1 && $NPROC -ge 2 ]] && command -v taskset >/dev/null; then
        taskset -a -p -c "$2" "${PID[$1]}" >/dev/null 2>&1 || true
    fi
}

run_one() { # server, label, round
    local s=$1 label=$2 round=$3 rc=0 out err pin_flags=() args=()
    read -r -a args <<<"$(workload_args "$label")"
    if is_latency "$label" && [[ $PIN == 1 && $NPROC -ge 2 ]]; then
        pin_server "$s" 0
        pin_flags=(--pin-cpu 1)
    fi
    out="$OUT_DIR/run-$round-$label-$s.json"
    err="$OUT_DIR/run-$round-$label-$s.err"
    "$BENCH_BIN" bench "${args[@]}" --url "nats://127.0.0.1:${PORT[$s]}" \
        --server-pid "${PID[$s]}" --json --no-progress "${pin_flags[@]}" \
        >"$out" 2>"$err" || rc=$?
    if is_latency "$label"; then
        pin_server "$s" "0-$((NPROC - 1))"
    fi
    local report
    report=$(head -n 1 "$out")
    [[ -n $report ]] || report=null
    printf '{"server":"%s","label":"%s","round":%d,"exit":%d,"report":%s}\n' \
        "$s" "$label" "$round" "$rc" "$report" >>"$RESULTS"
    if [[ $rc != 0 ]]; then
        echo "  !! $s $label round $round exited $rc: $(tail -n 1 "$err")" >&2
    fi
    ensure_running "$s"
}

echo "== natrium vs nats-server =="
echo "date:        $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "host:        $(uname -srm), nproc $NPROC, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "memory:      $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "natrium:     $NATRIUM_BIN ($("$NATRIUM_BIN" --version 2>&1 | head -n 1))"
echo "nats-server: $NATS_SERVER_BIN ($("$NATS_SERVER_BIN" --version 2>&1 | head -n 1))"
echo "bench:       $BENCH_BIN bench (async-nats client)"
echo "plan:        $ROUNDS rounds of [$WORKLOADS], MSGS=$MSGS REQS=$REQS SIZE=$SIZE, pinning for reqrep: $([[ $PIN == 1 && $NPROC -ge 2 ]] && echo 'server CPU 0, bench CPU 1' || echo off)"
echo "jetstream:   $([[ $WANT_JS == 1 ]] && echo "on, $JS_STORAGE storage, JS_MSGS=$JS_MSGS KV_KEYS=$KV_KEYS JS_WINDOW=$JS_WINDOW JS_BATCH=$JS_BATCH" || echo off)"
if [[ -n $SYNC_NOTE ]]; then echo "note:        $SYNC_NOTE"; fi
echo "output:      $OUT_DIR"
echo

for s in "${SERVERS[@]}"; do
    start_server "$s"
    # Warm-up run, not recorded.
    "$BENCH_BIN" bench pubsub --msgs 100000 --url "nats://127.0.0.1:${PORT[$s]}" \
        --json --no-progress >/dev/null 2>&1 || true
done

started=$SECONDS
for ((round = 1; round <= ROUNDS; round++)); do
    if ((round % 2)); then order=(natrium nats-server); else order=(nats-server natrium); fi
    echo "round $round/$ROUNDS (${order[*]})"
    for label in $WORKLOADS; do
        for s in "${order[@]}"; do
            run_one "$s" "$label" "$round"
        done
        if [[ $label == js-pub* && -n ${PORT[nats-sync]:-} ]]; then
            run_one nats-sync "$label" "$round"
        fi
    done
done
echo "measured in $((SECONDS - started)) s"
echo

python3 - "$RESULTS" "$WORKLOADS" "$SYNC_NOTE" <<'PY'
import json
import statistics
import sys

path, labels, sync_note = sys.argv[1], sys.argv[2].split(), sys.argv[3]
runs = [json.loads(line) for line in open(path) if line.strip()]
servers = ["natrium", "nats-server"]


def good(label, server):
    return [r["report"] for r in runs
            if r["label"] == label and r["server"] == server
            and r["exit"] == 0 and r["report"] and r["report"].get("ok")]


def total(label, server):
    return sum(1 for r in runs if r["label"] == label and r["server"] == server)


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def cpu(rep):
    return rep["server_cpu"]["us_per_msg"] if rep.get("server_cpu") else None


def lat(rep, key):
    return rep["latency"][key] if rep.get("latency") else None


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def ratio(a, b):
    return "-" if a is None or b is None or b == 0 else f"{a / b:.2f}"


print("Throughput (median msgs/s; ratio > 1: natrium faster) and server CPU "
      "(median us/msg; ratio < 1: natrium cheaper)")
head = (f"{'workload':<13} {'natrium':>12} {'nats-server':>12} {'ratio':>6}   "
        f"{'cpu natrium':>11} {'cpu nats':>9} {'ratio':>6}   {'ok runs':>9}")
print(head)
print("-" * len(head))
for label in labels:
    a, b = good(label, "natrium"), good(label, "nats-server")
    ra, rb = median(r["msgs_per_sec"] for r in a), median(r["msgs_per_sec"] for r in b)
    ca, cb = median(cpu(r) for r in a), median(cpu(r) for r in b)
    oks = f"{len(a)}/{total(label, 'natrium')},{len(b)}/{total(label, 'nats-server')}"
    print(f"{label:<13} {fmt(ra, '>12,.0f')} {fmt(rb, '>12,.0f')} {ratio(ra, rb):>6}   "
          f"{fmt(ca, '>11.3f')} {fmt(cb, '>9.3f')} {ratio(ca, cb):>6}   {oks:>9}")

lat_labels = [l for l in labels if l.startswith("reqrep")]
if lat_labels:
    print()
    print("Request/reply latency (median over runs of each run's percentile, us; "
          "ratio < 1: natrium faster)")
    head = (f"{'workload':<11} {'p50 natrium':>11} {'p50 nats':>9} {'ratio':>6}   "
            f"{'p99 natrium':>11} {'p99 nats':>9} {'ratio':>6}")
    print(head)
    print("-" * len(head))
    for label in lat_labels:
        a, b = good(label, "natrium"), good(label, "nats-server")
        pa, pb = median(lat(r, "p50_us") for r in a), median(lat(r, "p50_us") for r in b)
        qa, qb = median(lat(r, "p99_us") for r in a), median(lat(r, "p99_us") for r in b)
        print(f"{label:<11} {fmt(pa, '>11.1f')} {fmt(pb, '>9.1f')} {ratio(pa, pb):>6}   "
              f"{fmt(qa, '>11.1f')} {fmt(qb, '>9.1f')} {ratio(qa, qb):>6}")

js_labels = [l for l in labels if l.startswith("js-") or l == "kv"]
if js_labels:
    print()
    print("JetStream (median ops/s; ratio > 1: natrium faster; p50 = median of each run's "
          "p50 latency). js-pub waits for every PubAck; kv puts then gets every key; "
          "js-consume fetches and acks every message (p50 per pull request)")
    have_sync = any(r["server"] == "nats-sync" for r in runs)
    head = (f"{'workload':<13} {'natrium':>10} {'nats-server':>12} {'ratio':>6}"
            + (f"   {'nats-sync':>10} {'ratio':>6}" if have_sync else "")
            + f"   {'p50 natrium':>11} {'p50 nats':>9}")
    print(head)
    print("-" * len(head))

    def phase(rep, name):
        for p in rep.get("phases") or []:
            if p["name"] == name:
                return p
        return None

    def phase_rate(rep, name):
        p = phase(rep, name)
        return p["msgs_per_sec"] if p else None

    def phase_p50(rep, name):
        p = phase(rep, name)
        return (p.get("latency") or {}).get("p50_us") if p else None

    rows = []
    for label in js_labels:
        if label == "kv":
            rows.append(("kv", "kv", lambda r: r["msgs_per_sec"], lambda r: None))
            for ph in ("kv put", "kv get"):
                rows.append((ph.replace(" ", "-"), "kv",
                             lambda r, ph=ph: phase_rate(r, ph),
                             lambda r, ph=ph: phase_p50(r, ph)))
        else:
            rows.append((label, label, lambda r: r["msgs_per_sec"], lambda r: lat(r, "p50_us")))
    for name, label, get, getlat in rows:
        a, b = good(label, "natrium"), good(label, "nats-server")
        ra, rb = median(get(r) for r in a), median(get(r) for r in b)
        la, lb = median(getlat(r) for r in a), median(getlat(r) for r in b)
        line = f"{name:<13} {fmt(ra, ',.0f'):>10} {fmt(rb, ',.0f'):>12} {ratio(ra, rb):>6}"
        if have_sync:
            rc = median(get(r) for r in good(label, "nats-sync")) if label.startswith("js-pub") else None
            line += f"   {fmt(rc, ',.0f'):>10} {ratio(ra, rc):>6}"
        line += f"   {fmt(la, '.1f'):>11} {fmt(lb, '.1f'):>9}"
        print(line)
    if sync_note:
        print(f"note: {sync_note}")

failed = [r for r in runs if r["exit"] != 0 or not r["report"] or not r["report"].get("ok")]
if failed:
    print()
    print(f"{len(failed)} failed run(s), excluded from the medians:")
    for r in failed:
        why = "; ".join(r["report"]["failures"]) if r["report"] else "no report (see .err file)"
        print(f"  round {r['round']} {r['label']} on {r['server']}: exit {r['exit']}: {why}")
PY
echo
echo "raw results: $RESULTS"

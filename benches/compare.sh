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
# With --cluster: a 3-node natrium cluster against a 3-node nats-server cluster
# (full route mesh on loopback, checked through /routez before the runs), the
# bench connecting to all three nodes (--url node1,node2,node3; connection i
# goes to node i mod 3) so publishers and subscribers, requesters and the
# responder sit on different nodes and the routes carry the traffic; CPU per
# message sums the three nodes. js-pub-r3 (window JS_WINDOW) and js-pub-r3-sync
# (one PubAck at a time) publish to an R3 file stream; with a JetStream workload a
# third cluster runs too, nats-server with `jetstream { sync_interval: always }`
# (nats-sync), so the durable modes compare like for like.
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
#                    js-pub-sync js-pub-async kv js-consume]; with --cluster
#                    [pubsub fanout mpmc reqrep reqrep-c16 js-pub-r3 js-pub-r3-sync]
#                    (js-pub-r3* only with --cluster)
#   JS_MSGS          messages per js-pub-sync run [5000]; js-pub-async,
#                    js-pub-r3 and js-consume: x10
#   KV_KEYS          keys per kv run (put, then get) [5000]
#   JS_WINDOW        PubAcks in flight for js-pub-async and js-pub-r3 [256]
#   JS_BATCH         messages per pull request for js-consume [100]
#   JS_STORAGE       file or memory, for js-pub, kv and js-consume [file]
#                    (js-pub-r3 always uses file storage)
#   PIN              1: pin server and bench to different CPUs for reqrep [1]
#                    (--cluster: all three nodes on CPU 0, the bench on CPU 1)
#   NATRIUM_PORT     [14222]      NATS_PORT [24222]      NATS_SYNC_PORT [34222]
#   --cluster ports: node n (1..3) of a cluster uses BASE + n - 1 of each base:
#   NATRIUM_CLUSTER_PORT [15222]  NATRIUM_CLUSTER_HTTP [15232]  NATRIUM_CLUSTER_ROUTE [15242]
#   NATS_CLUSTER_PORT    [25222]  NATS_CLUSTER_HTTP    [25232]  NATS_CLUSTER_ROUTE    [25242]
#   NATS_SYNC_CLUSTER_PORT [35222] NATS_SYNC_CLUSTER_HTTP [35232] NATS_SYNC_CLUSTER_ROUTE [35242]
#                    (client, monitoring /routez, and cluster route ports)
#   MESH_TIMEOUT     seconds to wait for a full route mesh (--cluster) [30]
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

NATRIUM_BIN=${NATRIUM_BIN:-target/release/natrium}
NATS_SERVER_BIN=${NATS_SERVER_BIN:-nats-server}
BENCH_BIN=${BENCH_BIN:-$NATRIUM_BIN}
ROUNDS=${ROUNDS:-3}
MSGS=${MSGS:-1000000}
REQS=${REQS:-20000}
SIZE=${SIZE:-16}
if [[ $CLUSTER == 1 ]]; then
    WORKLOADS=${WORKLOADS:-"pubsub fanout mpmc reqrep reqrep-c16 js-pub-r3 js-pub-r3-sync"}
else
    WORKLOADS=${WORKLOADS:-"pub pubsub fanout mpmc reqrep reqrep-c16 js-pub-sync js-pub-async kv js-consume"}
fi
JS_MSGS=${JS_MSGS:-5000}
KV_KEYS=${KV_KEYS:-5000}
JS_WINDOW=${JS_WINDOW:-256}
JS_BATCH=${JS_BATCH:-100}
JS_STORAGE=${JS_STORAGE:-file}
NATS_SYNC_PORT=${NATS_SYNC_PORT:-34222}
PIN=${PIN:-1}
NATRIUM_PORT=${NATRIUM_PORT:-14222}
NATS_PORT=${NATS_PORT:-24222}
NATRIUM_CLUSTER_PORT=${NATRIUM_CLUSTER_PORT:-15222}
NATRIUM_CLUSTER_HTTP=${NATRIUM_CLUSTER_HTTP:-15232}
NATRIUM_CLUSTER_ROUTE=${NATRIUM_CLUSTER_ROUTE:-15242}
NATS_CLUSTER_PORT=${NATS_CLUSTER_PORT:-25222}
NATS_CLUSTER_HTTP=${NATS_CLUSTER_HTTP:-25232}
NATS_CLUSTER_ROUTE=${NATS_CLUSTER_ROUTE:-25242}
NATS_SYNC_CLUSTER_PORT=${NATS_SYNC_CLUSTER_PORT:-35222}
NATS_SYNC_CLUSTER_HTTP=${NATS_SYNC_CLUSTER_HTTP:-35232}
NATS_SYNC_CLUSTER_ROUTE=${NATS_SYNC_CLUSTER_ROUTE:-35242}
MESH_TIMEOUT=${MESH_TIMEOUT:-30}
OUT_DIR=${OUT_DIR:-$(mktemp -d -t natrium-compare.XXXXXX)}
NPROC=$(nproc)
NODES=(1 2 3)

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
if [[ $CLUSTER == 1 ]]; then
    if ! [[ $MESH_TIMEOUT =~ ^[1-9][0-9]*$ ]]; then
        echo "compare.sh: MESH_TIMEOUT must be a positive integer" >&2
        exit 2
    fi
    # 27 ports: client, http and route port of each of the 9 nodes.
    declare -A seen=()
    for base in "$NATRIUM_CLUSTER_PORT" "$NATRIUM_CLUSTER_HTTP" "$NATRIUM_CLUSTER_ROUTE" \
        "$NATS_CLUSTER_PORT" "$NATS_CLUSTER_HTTP" "$NATS_CLUSTER_ROUTE" \
        "$NATS_SYNC_CLUSTER_PORT" "$NATS_SYNC_CLUSTER_HTTP" "$NATS_SYNC_CLUSTER_ROUTE"; do
        if ! [[ $base =~ ^[1-9][0-9]*$ ]] || ((base > 65533)); then
            echo "compare.sh: cluster port bases must be integers from 1 to 65533: $base" >&2
            exit 2
        fi
        for n in "${NODES[@]}"; do
            p=$((base + n - 1))
            if [[ -n ${seen[$p]:-} ]]; then
                echo "compare.sh: cluster port $p is used twice; the *_CLUSTER_* bases need 3 free ports each" >&2
                exit 2
            fi
            seen[$p]=1
        done
    done
    unset seen
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
        js-pub-r3) echo "js-pub --window $JS_WINDOW --msgs $((JS_MSGS * 10)) --size $SIZE --storage file --replicas 3" ;;
        js-pub-r3-sync) echo "js-pub --window 1 --msgs $JS_MSGS --size $SIZE --storage file --replicas 3" ;;
        kv) echo "kv --msgs $KV_KEYS --size $SIZE --storage $JS_STORAGE" ;;
        js-consume) echo "js-consume --batch $JS_BATCH --msgs $((JS_MSGS * 10)) --size $SIZE --storage $JS_STORAGE" ;;
        *) return 1 ;;
    esac
}
is_latency() { [[ $1 == reqrep* ]]; }
is_js() { [[ $1 == js-* || $1 == kv ]]; }
for w in $WORKLOADS; do
    workload_args "$w" >/dev/null || { echo "compare.sh: unknown workload label: $w" >&2; exit 2; }
    if [[ $w == js-pub-r3* && $CLUSTER != 1 ]]; then
        echo "compare.sh: $w needs --cluster (a single server cannot hold 3 replicas)" >&2
        exit 2
    fi
done

# PID[s] (single server) or PID[s-n] (node n of cluster s); PORT, HTTP, ROUTE
# likewise (HTTP and ROUTE only for cluster nodes).
declare -A PID PORT HTTP ROUTE BIN
SERVERS=(natrium nats-server)
BIN[natrium]=$NATRIUM_BIN
BIN[nats-server]=$NATS_SERVER_BIN
if [[ $CLUSTER == 1 ]]; then
    for n in "${NODES[@]}"; do
        PORT[natrium-$n]=$((NATRIUM_CLUSTER_PORT + n - 1))
        HTTP[natrium-$n]=$((NATRIUM_CLUSTER_HTTP + n - 1))
        ROUTE[natrium-$n]=$((NATRIUM_CLUSTER_ROUTE + n - 1))
        PORT[nats-server-$n]=$((NATS_CLUSTER_PORT + n - 1))
        HTTP[nats-server-$n]=$((NATS_CLUSTER_HTTP + n - 1))
        ROUTE[nats-server-$n]=$((NATS_CLUSTER_ROUTE + n - 1))
    done
else
    PORT[natrium]=$NATRIUM_PORT
    PORT[nats-server]=$NATS_PORT
fi
WANT_JS=0
for w in $WORKLOADS; do
    if is_js "$w"; then WANT_JS=1; fi
done
# nats-server fsyncing before every PubAck, for js-pub: only if it accepts
# `sync_interval` (nats-server 2.10+); a third cluster with --cluster.
SYNC_NOTE=""
if [[ $WANT_JS == 1 ]]; then
    printf 'jetstream { store_dir: "%s", sync_interval: always }\n' "$OUT_DIR/probe-js" \
        >"$OUT_DIR/sync-probe.conf"
    if probe=$("$NATS_SERVER_BIN" -t -c "$OUT_DIR/sync-probe.conf" 2>&1); then
        SERVERS+=(nats-sync)
        PORT[nats-sync]=$NATS_SYNC_PORT
        if [[ $CLUSTER == 1 ]]; then
            for n in "${NODES[@]}"; do
                PORT[nats-sync-$n]=$((NATS_SYNC_CLUSTER_PORT + n - 1))
                HTTP[nats-sync-$n]=$((NATS_SYNC_CLUSTER_HTTP + n - 1))
                ROUTE[nats-sync-$n]=$((NATS_SYNC_CLUSTER_ROUTE + n - 1))
            done
        fi
        BIN[nats-sync]=$NATS_SERVER_BIN
        SYNC_NOTE="nats-sync = nats-server with jetstream { sync_interval: always }"
    else
        SYNC_NOTE="nats-server $("$NATS_SERVER_BIN" --version 2>&1 | head -n 1 | awk '{print $NF}') does not accept jetstream { sync_interval: always } ($(echo "$probe" | head -n 1 | sed 's/^nats-server: //')); js-pub runs against its default only (fsync every 2 min)"
    fi
fi

# The processes of server s: itself, or its three cluster nodes.
procs() {
    if [[ $CLUSTER == 1 ]]; then
        local n
        for n in "${NODES[@]}"; do echo "$1-$n"; done
    else
        echo "$1"
    fi
}
# Comma-separated PIDs and URLs of server s, for the bench's --server-pid and
# --url (URL order = node order, so connection i goes to node i mod 3).
server_pids() {
    local p out=()
    for p in $(procs "$1"); do out+=("${PID[$p]}"); done
    (IFS=,; echo "${out[*]}")
}
server_urls() {
    local p out=()
    for p in $(procs "$1"); do out+=("nats://127.0.0.1:${PORT[$p]}"); done
    (IFS=,; echo "${out[*]}")
}

stop_server() {
    local p
    for p in $(procs "$1"); do
        if [[ -n ${PID[$p]:-} ]] && kill -0 "${PID[$p]}" 2>/dev/null; then
            kill "${PID[$p]}" 2>/dev/null || true
            wait "${PID[$p]}" 2>/dev/null || true
        fi
    done
}

cleanup() {
    local s
    for s in "${SERVERS[@]}"; do
        stop_server "$s"
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The same minimal config for both servers; only the port differs. With a
# JetStream workload, JetStream is on (fresh store directory per start).
write_config() {
    cat >"$OUT_DIR/$1.conf" <<EOC
# generated by benches/compare.sh
listen: "127.0.0.1:$2"
EOC
    if [[ $WANT_JS == 1 ]]; then
        rm -rf "$OUT_DIR/$1-js"
        local sync=""
        [[ $1 == nats-sync ]] && sync=", sync_interval: always"
        echo "jetstream { store_dir: \"$OUT_DIR/$1-js\"$sync }" >>"$OUT_DIR/$1.conf"
    fi
}

# Cluster node config (--cluster), the same template for both servers: node
# $1-$2 with its client, monitoring and route ports, routes to the other two
# nodes, and with a JetStream workload a fresh store directory.
write_node_config() {
    local s=$1 n=$2 m p=$1-$2
    {
        echo "# generated by benches/compare.sh --cluster"
        echo "server_name: \"$p\""
        echo "listen: \"127.0.0.1:${PORT[$p]}\""
        echo "http: \"127.0.0.1:${HTTP[$p]}\""
        echo "cluster {"
        echo "  name: \"bench-$s\""
        echo "  listen: \"127.0.0.1:${ROUTE[$p]}\""
        echo "  routes ["
        for m in "${NODES[@]}"; do
            [[ $m == "$n" ]] || echo "    \"nats-route://127.0.0.1:${ROUTE[$s-$m]}\""
        done
        echo "  ]"
        echo "}"
    } >"$OUT_DIR/$p.conf"
    if [[ $WANT_JS == 1 ]]; then
        rm -rf "$OUT_DIR/$p-js"
        local sync=""
        [[ $s == nats-sync ]] && sync=", sync_interval: always"
        echo "jetstream { store_dir: \"$OUT_DIR/$p-js\"$sync }" >>"$OUT_DIR/$p.conf"
    fi
}

# Starts process p (a server or a cluster node) from OUT_DIR/p.conf.
launch() {
    local p=$1 s=$2
    "${BIN[$s]}" -c "$OUT_DIR/$p.conf" >>"$OUT_DIR/$p.log" 2>&1 &
    PID[$p]=$!
}

# Waits until process p accepts TCP on its client port.
wait_listening() {
    local p=$1 i
    for ((i = 0; i < 100; i++)); do
        if ! kill -0 "${PID[$p]}" 2>/dev/null; then
            echo "compare.sh: $p exited at startup; log:" >&2
            tail -n 20 "$OUT_DIR/$p.log" >&2
            exit 1
        fi
        if (exec 3<>"/dev/tcp/127.0.0.1/${PORT[$p]}") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "compare.sh: $p did not open 127.0.0.1:${PORT[$p]} within 10 s" >&2
    exit 1
}

# Exit 0 when every node of cluster s reports num_routes == 2 on /routez and,
# with JetStream on, no node reports a JetStream meta group without a leader
# (/jsz meta_cluster, nats-server). Prints each node's state on stdout.
mesh_state() {
    local s=$1 n ports=()
    for n in "${NODES[@]}"; do ports+=("${HTTP[$s-$n]}"); done
    python3 - "$WANT_JS" "${ports[@]}" <<'PY'
import json
import sys
import urllib.request

want_js, ports = sys.argv[1] == "1", sys.argv[2:]
ok, states = True, []


def get(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
        return json.load(r)


for port in ports:
    try:
        rz = get(port, "/routez")
        # nats-server 2.10+ pools several connections per peer: count peers.
        peers = {r.get("remote_id") for r in rz.get("routes") or []}
        state = f"{port}: peers {len(peers)} (num_routes {rz.get('num_routes')})"
        ok &= len(peers) == len(ports) - 1
        if want_js:
            meta = get(port, "/jsz").get("meta_cluster")
            if meta is not None:
                state += f", JetStream meta leader {meta.get('leader') or 'none'}"
                ok &= bool(meta.get("leader"))
    except Exception as e:  # not up yet
        state, ok = f"{port}: {e}", False
    states.append(state)
print("; ".join(states))
sys.exit(0 if ok else 1)
PY
}

start_cluster() {
    local s=$1 n state deadline
    for n in "${NODES[@]}"; do
        write_node_config "$s" "$n"
        launch "$s-$n" "$s"
    done
    for n in "${NODES[@]}"; do wait_listening "$s-$n"; done
    deadline=$((SECONDS + MESH_TIMEOUT))
    until state=$(mesh_state "$s"); do
        for n in "${NODES[@]}"; do
            if ! kill -0 "${PID[$s-$n]}" 2>/dev/null; then
                echo "compare.sh: $s-$n exited while the cluster formed; log:" >&2
                tail -n 20 "$OUT_DIR/$s-$n.log" >&2
                exit 1
            fi
        done
        if ((SECONDS >= deadline)); then
            echo "compare.sh: $s cluster not complete within $MESH_TIMEOUT s (monitoring port: state): $state" >&2
            for n in "${NODES[@]}"; do
                echo "--- $OUT_DIR/$s-$n.log" >&2
                tail -n 10 "$OUT_DIR/$s-$n.log" >&2
            done
            exit 1
        fi
        sleep 0.2
    done
    echo "$s cluster: full route mesh ($state)" >>"$OUT_DIR/mesh.log"
}

start_server() {
    local s=$1
    if [[ $CLUSTER == 1 ]]; then
        start_cluster "$s"
        return
    fi
    write_config "$s" "${PORT[$s]}"
    launch "$s" "$s"
    wait_listening "$s"
}

# Restarts a server that died during a run (the run is recorded as failed);
# in cluster mode a dead node restarts its whole cluster.
ensure_running() {
    local s=$1 p
    for p in $(procs "$s"); do
        if ! kill -0 "${PID[$p]}" 2>/dev/null; then
            echo "  !! $p (pid ${PID[$p]}) died; restarting $([[ $CLUSTER == 1 ]] && echo "the $s cluster" || echo it)" >&2
            wait "${PID[$p]}" 2>/dev/null || true
            stop_server "$s"
            start_server "$s"
            return
        fi
    done
}

pin_server() { # server, cpu list
    local p
    if [[ $PIN == 1 && $NPROC -ge 2 ]] && command -v taskset >/dev/null; then
        for p in $(procs "$1"); do
            taskset -a -p -c "$2" "${PID[$p]}" >/dev/null 2>&1 || true
        done
    fi
}

# natrium's answer to a stream with num_replicas > 1 (JetStream error 10074)
# while replication is not implemented.
REFUSAL='replicas > 1 not supported|err(or)?_?code[^0-9]*10074'

run_one() { # server, label, round
    local s=$1 label=$2 round=$3 rc=0 out err pin_flags=() args=() refused=""
    read -r -a args <<<"$(workload_args "$label")"
    if is_latency "$label" && [[ $PIN == 1 && $NPROC -ge 2 ]]; then
        pin_server "$s" 0
        pin_flags=(--pin-cpu 1)
    fi
    out="$OUT_DIR/run-$round-$label-$s.json"
    err="$OUT_DIR/run-$round-$label-$s.err"
    "$BENCH_BIN" bench "${args[@]}" --url "$(server_urls "$s")" \
        --server-pid "$(server_pids "$s")" --json --no-progress "${pin_flags[@]}" \
        >"$out" 2>"$err" || rc=$?
    if is_latency "$label"; then
        pin_server "$s" "0-$((NPROC - 1))"
    fi
    local report
    report=$(head -n 1 "$out")
    [[ -n $report ]] || report=null
    if [[ $rc != 0 && $s == natrium && $label == js-pub-r3* ]] &&
        grep -Eqi "$REFUSAL" "$out" "$err"; then
        refused=',"refused":true'
    fi
    printf '{"server":"%s","label":"%s","round":%d,"exit":%d,"report":%s%s}\n' \
        "$s" "$label" "$round" "$rc" "$report" "$refused" >>"$RESULTS"
    if [[ -n $refused ]]; then
        echo "  -- $s $label round $round: refused, num_replicas > 1 not supported ($(tail -n 1 "$err"))" >&2
    elif [[ $rc != 0 ]]; then
        echo "  !! $s $label round $round exited $rc: $(tail -n 1 "$err")" >&2
    fi
    ensure_running "$s"
}

print_header() {
    local pin_desc="server CPU 0, bench CPU 1" s
    if [[ $CLUSTER == 1 ]]; then
        echo "== natrium vs nats-server: 3-node clusters =="
        pin_desc='all nodes CPU 0, bench CPU 1'
    else
        echo "== natrium vs nats-server =="
    fi
    echo "date:        $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "host:        $(uname -srm), nproc $NPROC, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "memory:      $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "natrium:     $NATRIUM_BIN ($("$NATRIUM_BIN" --version 2>&1 | head -n 1))"
    echo "nats-server: $NATS_SERVER_BIN ($("$NATS_SERVER_BIN" --version 2>&1 | head -n 1))"
    echo "bench:       $BENCH_BIN bench (async-nats client)"
    echo "plan:        $ROUNDS rounds of [$WORKLOADS], MSGS=$MSGS REQS=$REQS SIZE=$SIZE, pinning for reqrep: $([[ $PIN == 1 && $NPROC -ge 2 ]] && echo "$pin_desc" || echo off)"
    echo "jetstream:   $([[ $WANT_JS == 1 ]] && echo "on, $JS_STORAGE storage, JS_MSGS=$JS_MSGS KV_KEYS=$KV_KEYS JS_WINDOW=$JS_WINDOW JS_BATCH=$JS_BATCH" || echo off)"
    if [[ $CLUSTER == 1 ]]; then
        for s in natrium nats-server; do
            printf 'cluster:     %-11s nodes 1-3: client %s, http %s, routes %s\n' "$s" \
                "${PORT[$s-1]}-${PORT[$s-3]}" "${HTTP[$s-1]}-${HTTP[$s-3]}" "${ROUTE[$s-1]}-${ROUTE[$s-3]}"
        done
        echo "placement:   --url node1,node2,node3, connection i on node (i mod 3)+1: pubsub pub 1 -> sub 2;"
        echo "             fanout pub 1 -> subs 2,3,1,2; mpmc pubs 1,2,3,1 -> subs 2,3,1,2;"
        echo "             reqrep responder 1, requester(s) 2; js-pub-r3* publisher 1"
    fi
    if [[ -n $SYNC_NOTE ]]; then echo "note:        $SYNC_NOTE"; fi
    echo "output:      $OUT_DIR"
    echo
}

print_header

for s in "${SERVERS[@]}"; do
    start_server "$s"
    # Warm-up run, not recorded.
    "$BENCH_BIN" bench pubsub --msgs 100000 --url "$(server_urls "$s")" \
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


def refused(label):
    """natrium refused every run of label (num_replicas > 1): no ratio."""
    rs = [r for r in runs if r["label"] == label and r["server"] == "natrium"]
    return bool(rs) and not good(label, "natrium") and all(r.get("refused") for r in rs)


REFUSED = "skipped: natrium refuses num_replicas>1 (replication not implemented yet)"


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
    if refused(label):
        print(f"{label:<13} {REFUSED}; nats-server {fmt(rb, ',.0f')} msgs/s, "
              f"cpu {fmt(cb, '.3f')} us/msg, ok runs {oks}")
        continue
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
        if refused(label):
            print(f"{name:<13} {REFUSED}; nats-server {fmt(rb, ',.0f')} msgs/s, "
                  f"p50 {fmt(lb, '.1f')} us")
            continue
        line = f"{name:<13} {fmt(ra, ',.0f'):>10} {fmt(rb, ',.0f'):>12} {ratio(ra, rb):>6}"
        if have_sync:
            rc = median(get(r) for r in good(label, "nats-sync")) if label.startswith("js-pub") else None
            line += f"   {fmt(rc, ',.0f'):>10} {ratio(ra, rc):>6}"
        line += f"   {fmt(la, '.1f'):>11} {fmt(lb, '.1f'):>9}"
        print(line)
    if sync_note:
        print(f"note: {sync_note}")

failed = [r for r in runs if (r["exit"] != 0 or not r["report"] or not r["report"].get("ok"))
          and not (r.get("refused") and refused(r["label"]))]
if failed:
    print()
    print(f"{len(failed)} failed run(s), excluded from the medians:")
    for r in failed:
        why = "; ".join(r["report"]["failures"]) if r["report"] else "no report (see .err file)"
        print(f"  round {r['round']} {r['label']} on {r['server']}: exit {r['exit']}: {why}")
PY
echo
echo "raw results: $RESULTS"

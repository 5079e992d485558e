#!/usr/bin/env bash
# Kill -9 / restart chaos on a local three-node cluster (loopback only).
#
# Starts cluster-configs/local/node{1,2,3}.conf as processes in a scratch directory,
# waits for the full mesh, then ROUNDS times: kills node2 with SIGKILL, runs a
# publisher on node1 -> subscriber on node3 (across the surviving route) with
# `natrium bench pubsub`, restarts node2, waits until every node reports two routes
# again, and runs the cross-node workload once more. Prints one line per step and a
# summary; exits non-zero if any step failed. All processes are stopped on exit.
#
#   chaos/kill-restart.sh                 # 5 rounds, 20000 messages per run
#   ROUNDS=20 MSGS=100000 chaos/kill-restart.sh
#   NATRIUM=/path/to/natrium chaos/kill-restart.sh
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
rounds="${ROUNDS:-5}"
msgs="${MSGS:-20000}"
bin="${NATRIUM:-${CARGO_TARGET_DIR:-target}/release/natrium}"
[ -x "$bin" ] || { echo "build first: cargo build --release (or set NATRIUM=)"; exit 2; }
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
work=$(mktemp -d)
declare -A pid
user=app pass=app-s3cret
. "$repo/chaos/lib.sh"

start() {
  mkdir -p "$work/data/node$1"
  (cd "$work" && exec "$bin" -c "$repo/cluster-configs/local/node$1.conf") &
  pid[$1]=$!
}
stop_all() {
  for n in "${!pid[@]}"; do kill "${pid[$n]}" 2>/dev/null; done
  wait 2>/dev/null
  echo "logs kept in $work/data"
}
trap stop_all EXIT

routes() { curl -s --max-time 5 "http://127.0.0.1:$((8221 + $1))/routez" | parse_num_routes; }
has_routes() { [ "$(routes "$1")" = "$2" ]; }
# Succeeds as soon as node $1 reports $2 routes (also on a retry); fails after $3 s.
wait_routes() { wait_until "$3" has_routes "$1" "$2"; }
bench() {
  timeout 300 "$bin" bench --url nats://127.0.0.1:4222,nats://127.0.0.1:4224 --user $user --password $pass \
    --no-progress --stall-timeout 10 pubsub --msgs "$msgs" --size 64 >"$work/bench.out" 2>&1
}
# The bench publishes as soon as its subscriber's SUB is acknowledged by node3; the
# interest reaches node1 over the route a moment later, so the first messages of a run
# can be missed. One retry absorbs that race; a second failure is a real failure.
workload() {
  bench && return 0
  echo "      (retrying once: $(tail -1 "$work/bench.out"))"
  bench
}

for n in 1 2 3; do start $n; done
for n in 1 2 3; do step "node$n has 2 routes" wait_routes $n 2 30; done
for r in $(seq 1 "$rounds"); do
  kill -9 "${pid[2]}"; timeout 30 tail --pid="${pid[2]}" -f /dev/null; wait "${pid[2]}" 2>/dev/null
  step "round $r: node2 killed, node1/node3 keep their route" wait_routes 1 1 15
  step "round $r: $msgs msgs node1 -> node3 while node2 is down" workload
  start 2
  for n in 1 2 3; do step "round $r: node$n back to 2 routes" wait_routes $n 2 60; done
  step "round $r: $msgs msgs node1 -> node3 after restart" workload
done
echo "== $rounds rounds, $fails failed steps"
[ $fails -eq 0 ]

#!/usr/bin/env bash
# benches/frontends.sh: the MQTT and WebSocket front ends of natrium against
# nats-server, same clients (paho-mqtt, nats.py over ws://), same machine.
#
# For each workload and each server, ROUNDS times: one subscriber and one
# publisher (benches/frontends_load.py), MSGS messages of SIZE bytes; the
# subscriber's receive rate and the server's CPU time (utime+stime from /proc)
# per message. Prints medians and the natrium/nats-server ratios (throughput:
# higher is better; CPU per message: lower is better). The Python clients are
# the ceiling on a small machine, so throughput ratios near 1.0 mostly say
# "not the bottleneck"; the CPU per message is the server's own figure.
# Builds nothing.
#
# Usage: benches/frontends.sh
# Environment: NATRIUM_BIN [target/release/natrium], NATS_SERVER_BIN [nats-server],
#   ROUNDS [3], MSGS [20000], SIZE [64], WORKLOADS [mqtt-qos0 mqtt-qos1 ws-pubsub]
set -euo pipefail
cd "$(dirname "$0")/.."

NATRIUM_BIN=${NATRIUM_BIN:-target/release/natrium}
NATS_SERVER_BIN=${NATS_SERVER_BIN:-nats-server}
ROUNDS=${ROUNDS:-3}
MSGS=${MSGS:-20000}
SIZE=${SIZE:-64}
WORKLOADS=${WORKLOADS:-mqtt-qos0 mqtt-qos1 ws-pubsub}
OUT_DIR=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$OUT_DIR"' EXIT

write_conf() { # name client mqtt ws
  cat > "$OUT_DIR/$1.conf" <<CONF
server_name: $1
listen: 127.0.0.1:$2
jetstream { store_dir: "$OUT_DIR/$1-js" }
mqtt { host: 127.0.0.1, port: $3 }
websocket { host: 127.0.0.1, port: $4, no_tls: true }
CONF
}
write_conf natrium 14322 14883 14880
write_conf nats 24322 24883 24880

start() { # name bin
  "$2" -c "$OUT_DIR/$1.conf" > "$OUT_DIR/$1.log" 2>&1 &
  echo $!
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
tck=$(getconf CLK_TCK)

NAT_PID=$(start natrium "$NATRIUM_BIN")
NATS_PID=$(start nats "$NATS_SERVER_BIN")
sleep 2

declare -A RATE CPU
for w in $WORKLOADS; do
  for s in natrium nats; do
    case $s in natrium) pid=$NAT_PID; m=14883; ws=14880 ;; nats) pid=$NATS_PID; m=24883; ws=24880 ;; esac
    case $w in ws-pubsub) addr="ws://127.0.0.1:$ws" ;; *) addr="127.0.0.1:$m" ;; esac
    rates=(); cpus=()
    for _ in $(seq "$ROUNDS"); do
      c0=$(cpu_ticks "$pid")
      r=$(python3 benches/frontends_load.py "$w" "$addr" "$MSGS" "$SIZE")
      c1=$(cpu_ticks "$pid")
      rates+=("$r")
      cpus+=("$(awk -v d=$((c1 - c0)) -v t="$tck" -v n="$MSGS" 'BEGIN{printf "%.2f", d / t * 1e6 / n}')")
    done
    RATE[$w.$s]=$(printf '%s\n' "${rates[@]}" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
    CPU[$w.$s]=$(printf '%s\n' "${cpus[@]}" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
  done
done

printf '%-10s %14s %14s %8s %16s %16s %8s\n' workload natrium_msg/s nats_msg/s ratio natrium_cpu_us nats_cpu_us ratio
for w in $WORKLOADS; do
  a=${RATE[$w.natrium]}; b=${RATE[$w.nats]}; ca=${CPU[$w.natrium]}; cb=${CPU[$w.nats]}
  printf '%-10s %14s %14s %8s %16s %16s %8s\n' "$w" "$a" "$b" \
    "$(awk -v a="$a" -v b="$b" 'BEGIN{printf "%.2f", a / b}')" "$ca" "$cb" \
    "$(awk -v a="$ca" -v b="$cb" 'BEGIN{ if (b > 0) printf "%.2f", a / b; else print "n/a"}')"
done

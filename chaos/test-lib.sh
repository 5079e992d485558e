#!/usr/bin/env bash
# Tests of chaos/lib.sh's own logic with fake commands (no cluster needed): a condition
# that becomes true on a retry is "ok", not FAIL (the wait_routes bug); a condition that
# never holds fails after its deadline; num_routes is parsed from /routez bodies.
set -uo pipefail
cd "$(dirname "$0")"
. ./lib.sh
bad=0
check() { # description expected actual
  if [ "$2" = "$3" ]; then echo "ok    $1"; else echo "FAIL  $1: expected '$2', got '$3'"; bad=$((bad + 1)); fi
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# A fake /routez that reports 1 route on the first two calls, then 2.
calls="$tmp/calls"
echo 0 >"$calls"
fake_routes() {
  local n=$(( $(cat "$calls") + 1 ))
  echo $n >"$calls"
  if [ $n -le 2 ]; then echo '{"num_routes": 1}'; else echo '{"num_routes":2,"routes":[]}'; fi
}
has_routes() { [ "$(fake_routes | parse_num_routes)" = "$1" ]; }

wait_until 10 has_routes 2; check "true on the third try returns 0" 0 $?
check "polled until true" 3 "$(cat "$calls")"
echo 0 >"$calls"
start=$(date +%s)
wait_until 1 has_routes 7; check "never true returns 1" 1 $?
elapsed=$(( $(date +%s) - start ))
[ $elapsed -ge 1 ] && [ $elapsed -le 5 ]; check "gave up after its 1 s deadline (took ${elapsed}s)" 0 $?
echo 5 >"$calls"
wait_until 0 has_routes 2; check "already true with a 0 s deadline returns 0" 0 $?

# step: the summary counts exactly the failed steps.
fails=0
out=$(echo 0 >"$calls"; step "node back to 2 routes" wait_until 10 has_routes 2; echo "fails=$fails")
check "step after a retry prints ok" "ok    node back to 2 routes|fails=0" "$(echo "$out" | paste -sd'|')"
out=$(step "never" false; step "always" true; echo "fails=$fails")
check "step counts one failure" "FAIL  never|ok    always|fails=1" "$(echo "$out" | paste -sd'|')"

check "parse spaced" 2 "$(echo '{"num_routes": 2}' | parse_num_routes)"
check "parse compact" 13 "$(printf '{\n "x":1,\n  "num_routes":13,\n "routes": []}' | parse_num_routes)"
check "parse absent" "" "$(echo '{}' | parse_num_routes)"

echo "== $bad failed checks"
[ $bad -eq 0 ]

# Helpers shared by the chaos scripts (sourced, not run). Their own logic is tested by
# chaos/test-lib.sh, which tests/chaos_scripts.rs runs as part of the test command.

# Reads a /routez body on stdin and prints its num_routes (nothing if absent).
parse_num_routes() {
  grep -o '"num_routes": *[0-9]*' | grep -o '[0-9]*$'
}

# wait_until TIMEOUT_S COMMAND...: runs COMMAND every 0.2 s until it succeeds.
# Returns 0 as soon as it does (also on a retry), 1 once TIMEOUT_S seconds have passed.
wait_until() {
  local deadline=$(( $(date +%s) + $1 ))
  shift
  while true; do
    "$@" && return 0
    [ "$(date +%s)" -ge "$deadline" ] && return 1
    sleep 0.2
  done
}

# step DESCRIPTION COMMAND...: prints "ok    DESCRIPTION" or "FAIL  DESCRIPTION" from
# COMMAND's status and counts failures in $fails.
fails=0
step() {
  local d=$1
  shift
  if "$@"; then
    echo "ok    $d"
  else
    echo "FAIL  $d"
    fails=$((fails + 1))
  fi
}

# Shared by the bench scripts (sourced): the binary to measure, a work directory removed on
# exit (with the host process, if one runs), and free loopback ports.
#   bench_binary           sets BIN: $BENCH_BIN, or this build's release binary (built)
#   bench_workdir          sets WORK, and a trap that kills $HOST_PID and removes WORK
#   free_ports N           prints N free loopback ports on one line
#   bench_executable NAME  prints the path of `cargo bench --bench NAME`'s executable (built)

bench_binary() {
  if [ -n "${BENCH_BIN:-}" ]; then
    BIN="$BENCH_BIN"
  else
    local target="${CARGO_TARGET_DIR:-$ROOT/target}" profile="${BENCH_PROFILE:-release}"
    log "building the $profile binary"
    (cd "$ROOT" && cargo build -q --profile "$profile" --bin analytics-host)
    BIN="$target/$profile/analytics-host"
  fi
}

bench_cleanup() {
  [ -n "${HOST_PID:-}" ] && kill "$HOST_PID" 2>/dev/null && wait "$HOST_PID" 2>/dev/null
  rm -rf "$WORK"
}

bench_workdir() {
  WORK="$(mktemp -d)"
  HOST_PID=""
  trap bench_cleanup EXIT
}

free_ports() {
  /usr/bin/python3 - "$1" <<'PY'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])
PY
}

bench_executable() {
  (cd "$ROOT" && cargo bench -q --bench "$1" --no-run --message-format json 2>/dev/null) \
    | /usr/bin/python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == sys.argv[1] and m.get("executable"):
        print(m["executable"])' "$1"
}

# Shared by scripts/livekit-e2e.sh (webhooks) and scripts/livekit-export-e2e.sh (the
# patched server's analytics export): sourced, not run. The caller sets ROOT and TAG.
#
#   lk_setup        livekit-server (livekit/build.sh), the Python venv, the host binary and,
#                   when installed, the MongoDB-wire server; a work directory cleaned on exit
#   free_ports N    N free loopback ports
#   wait_port P S NAME, start_mongo, start_host CONFIG PORT, start_livekit CONFIG PORT [ARGS],
#   stop_pid VAR
#
# Exit code 77 (lk_skip) means a tool could not be installed; callers pass it on.

CACHE="${LKA_CACHE_DIR:-$HOME/.cache/livekit-analytics-host}"
VENV="$CACHE/venv-e2e"
# grpcio: the export test's recording relay (scripts/livekit-export-tap.py).
PY_PINS=("livekit==1.2.1" "livekit-api==1.2.2" "grpcio==1.85.3")
STAMP="v2 ${PY_PINS[*]}"

log() { echo "$TAG: $*" >&2; }
lk_skip() { log "SKIPPED: $*"; exit 77; }

lk_setup() {
  mkdir -p "$CACHE/bin"

  # livekit-server with the project's patch: without an `analytics_export` section it
  # behaves as the stock server, so both end-to-end scripts use this one build. The version
  # is $LKA_LIVEKIT_VERSION (build.sh's default, the newest supported, when unset).
  local out rc=0
  out="$(bash "$ROOT/livekit/build.sh" ${LKA_LIVEKIT_VERSION:+"$LKA_LIVEKIT_VERSION"})" || rc=$?
  case "$rc" in
    0) LK_BIN="$(printf '%s\n' "$out" | tail -n1)"; log "livekit-server: $LK_BIN" ;;
    2) log "livekit/build.sh: LKA_LIVEKIT_VERSION=${LKA_LIVEKIT_VERSION:-} is not supported"; exit 1 ;;
    77) lk_skip "livekit/build.sh could not get Go or the livekit-server source" ;;
    *) log "livekit/build.sh failed (exit $rc)"; exit 1 ;;
  esac

  # The Python client venv.
  if [ ! -f "$VENV/.lka-stamp" ] || [ "$(cat "$VENV/.lka-stamp")" != "$STAMP" ]; then
    log "creating $VENV with ${PY_PINS[*]}"
    rm -rf "$VENV"
    /usr/bin/python3 -m venv "$VENV" || lk_skip "/usr/bin/python3 -m venv failed"
    "$VENV/bin/pip" install -q "${PY_PINS[@]}" >&2 || lk_skip "pip install ${PY_PINS[*]} failed"
    echo "$STAMP" > "$VENV/.lka-stamp"
  fi
  PY="$VENV/bin/python"

  # The host binary.
  HOST_BIN="${LKA_HOST_BIN:-}"
  if [ -z "$HOST_BIN" ]; then
    (cd "$ROOT" && cargo build -q --bin analytics-host) >&2
    HOST_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/analytics-host"
  fi
  [ -x "$HOST_BIN" ] || { log "no host binary at $HOST_BIN"; exit 1; }

  # The optional MongoDB-wire server (SecantusDB, from scripts/install-test-deps.sh).
  if [ -z "${LKA_SECANTUSD:-}" ] && [ -f "$CACHE/test-env.sh" ]; then
    # shellcheck disable=SC1091
    . "$CACHE/test-env.sh"
  fi
  MONGO_PY=""
  if [ -n "${LKA_SECANTUSD:-}" ] && [ -x "$LKA_SECANTUSD" ] && [ -x "$(dirname "$LKA_SECANTUSD")/python" ]; then
    MONGO_PY="$(dirname "$LKA_SECANTUSD")/python"
  fi

  WORK="$(mktemp -d)"
  HOST_PID="" LK_PID="" MONGO_PID="" EXTRA_PIDS=()
  trap lk_cleanup EXIT
}

lk_cleanup() {
  local pid
  for pid in ${EXTRA_PIDS[@]+"${EXTRA_PIDS[@]}"} "$LK_PID" "$HOST_PID" "$MONGO_PID"; do
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  done
  if [ "${LKA_E2E_KEEP:-0}" = 1 ]; then log "work directory kept: $WORK"; else rm -rf "$WORK"; fi
}

free_ports() { "$PY" -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))' "$1"; }

wait_port() { # port seconds name
  for _ in $(seq 1 $(( $2 * 10 ))); do
    if "$PY" -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2)' "$1" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  log "$3 did not listen on port $1 within $2 s"; return 1
}

dump_logs() {
  log "---- host log (tail) ----";           tail -n 40 "$WORK/host.log" >&2 || true
  log "---- livekit-server log (tail) ----"; tail -n 60 "$WORK/livekit.log" >&2 || true
}

start_mongo() { # port
  printf '[storage]\ncache_size = "256M"\n' > "$WORK/secantusd.toml"
  "$LKA_SECANTUSD" --config "$WORK/secantusd.toml" --host 127.0.0.1 --port "$1" \
    --storage-path "$WORK/mongo" >>"$WORK/mongo.log" 2>&1 &
  MONGO_PID=$!
  wait_port "$1" 60 "secantusd-py" || { tail -n 30 "$WORK/mongo.log" >&2; exit 1; }
}

start_host() { # config port-to-wait-for
  "$HOST_BIN" --config "$1" run >>"$WORK/host.log" 2>&1 &
  HOST_PID=$!
  wait_port "$2" 20 "the host" || { dump_logs; exit 1; }
}

start_livekit() { # config port [more livekit-server arguments]
  "$LK_BIN" --config "$1" --dev --bind 127.0.0.1 --node-ip 127.0.0.1 "${@:3}" >>"$WORK/livekit.log" 2>&1 &
  LK_PID=$!
  wait_port "$2" 30 "livekit-server" || { dump_logs; exit 1; }
}

stop_pid() { # name of the variable holding the pid: SIGTERM, wait, clear
  local pid="${!1}"
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  printf -v "$1" '%s' ""
}

# The RTC ports of a livekit-server config: a random UDP range per run.
livekit_rtc_yaml() { # tcp-port
  local udp_start=$(( 50000 + RANDOM % 10000 ))
  printf 'rtc:\n  tcp_port: %s\n  port_range_start: %s\n  port_range_end: %s\n  use_external_ip: false\n' \
    "$1" "$udp_start" $(( udp_start + 50 ))
}

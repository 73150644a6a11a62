#!/usr/bin/env bash
# End to end against a real livekit-server: installs livekit-server v1.13.5 (go install,
# pinned) and a Python venv with the LiveKit SDKs into the cache directory, starts the
# host (embedded file store) and livekit-server --dev on loopback with webhook.urls
# pointing at the host, runs a real client (create room, join, publish audio, unpublish,
# leave, delete room), stops both by PID and checks the stored events: in the embedded
# file store always, and in a MongoDB-wire server (SecantusDB) as well when
# scripts/install-test-deps.sh has installed one (LKA_SECANTUSD in $CACHE/test-env.sh).
#
#   scripts/livekit-e2e.sh            # exit 0: passed; 1: failed; 77: could not install
#   LKA_E2E_KEEP=1 scripts/livekit-e2e.sh   # keep the work directory and logs
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${LKA_CACHE_DIR:-$HOME/.cache/livekit-analytics-host}"
LK_VERSION="v1.13.5"
LK_BIN="$CACHE/bin/livekit-server-$LK_VERSION"
VENV="$CACHE/venv-e2e"
PY_PINS=("livekit==1.2.1" "livekit-api==1.2.2")
STAMP="v1 ${PY_PINS[*]}"

log() { echo "livekit-e2e: $*" >&2; }
skip() { log "SKIPPED: $*"; exit 77; }

mkdir -p "$CACHE/bin"

# --- livekit-server ----------------------------------------------------------------
if [ ! -x "$LK_BIN" ]; then
  command -v go >/dev/null 2>&1 || skip "go is not installed (needed for go install of livekit-server)"
  log "installing livekit-server $LK_VERSION (go install; takes a few minutes the first time)"
  gobin="$(mktemp -d)"
  if ! GOBIN="$gobin" go install "github.com/livekit/livekit-server/cmd/server@$LK_VERSION" >&2; then
    rm -rf "$gobin"
    skip "go install github.com/livekit/livekit-server/cmd/server@$LK_VERSION failed"
  fi
  mv "$gobin/server" "$LK_BIN"
  rm -rf "$gobin"
fi

# --- Python client venv ----------------------------------------------------------------
if [ ! -f "$VENV/.lka-stamp" ] || [ "$(cat "$VENV/.lka-stamp")" != "$STAMP" ]; then
  log "creating $VENV with ${PY_PINS[*]}"
  rm -rf "$VENV"
  /usr/bin/python3 -m venv "$VENV" || skip "/usr/bin/python3 -m venv failed"
  "$VENV/bin/pip" install -q "${PY_PINS[@]}" >&2 || skip "pip install ${PY_PINS[*]} failed"
  echo "$STAMP" > "$VENV/.lka-stamp"
fi
PY="$VENV/bin/python"

# --- the host binary ----------------------------------------------------------------
HOST_BIN="${LKA_HOST_BIN:-}"
if [ -z "$HOST_BIN" ]; then
  (cd "$ROOT" && cargo build -q --bin analytics-host) >&2
  HOST_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/analytics-host"
fi
[ -x "$HOST_BIN" ] || { log "no host binary at $HOST_BIN"; exit 1; }

# --- optional MongoDB-wire server ------------------------------------------------------
if [ -z "${LKA_SECANTUSD:-}" ] && [ -f "$CACHE/test-env.sh" ]; then
  # shellcheck disable=SC1091
  . "$CACHE/test-env.sh"
fi
MONGO_PY=""
if [ -n "${LKA_SECANTUSD:-}" ] && [ -x "$LKA_SECANTUSD" ] && [ -x "$(dirname "$LKA_SECANTUSD")/python" ]; then
  MONGO_PY="$(dirname "$LKA_SECANTUSD")/python"
else
  log "no MongoDB-wire server installed (scripts/install-test-deps.sh): checking the file store only"
fi

# --- configuration ------------------------------------------------------------------
WORK="$(mktemp -d)"
HOST_PID=""
LK_PID=""
MONGO_PID=""
cleanup() {
  [ -n "$LK_PID" ] && kill "$LK_PID" 2>/dev/null && wait "$LK_PID" 2>/dev/null || true
  [ -n "$MONGO_PID" ] && kill "$MONGO_PID" 2>/dev/null && wait "$MONGO_PID" 2>/dev/null || true
  [ -n "$HOST_PID" ] && kill "$HOST_PID" 2>/dev/null && wait "$HOST_PID" 2>/dev/null || true
  if [ "${LKA_E2E_KEEP:-0}" = 1 ]; then log "work directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

free_ports() { "$PY" -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))' "$1"; }
read -r WEBHOOK_PORT LK_PORT LK_TCP PROM_PORT MONGO_PORT <<<"$(free_ports 5)"
UDP_START=$(( 50000 + RANDOM % 10000 ))
UDP_END=$(( UDP_START + 50 ))
KEY="devkey"
SECRET="e2e-secret-that-is-at-least-32-characters"

cat > "$WORK/host.yaml" <<YAML
keys:
  $KEY: $SECRET
openvidu:
  analytics:
    interval: 1s
    node_id: e2e-node
$( [ -n "$MONGO_PY" ] && echo "    mongo_url: \"mongodb://127.0.0.1:$MONGO_PORT/?directConnection=true\"" )
    file:
      enabled: true
      dir: $WORK/store
    ingest:
      webhook:
        listen: "127.0.0.1:$WEBHOOK_PORT"
      grpc:
        enabled: false
      prometheus:
        url: "http://127.0.0.1:$PROM_PORT/metrics"
        interval: 1s
    telemetry:
      enabled: false   # not needed here; its default port may be taken on a shared machine
YAML

cat > "$WORK/livekit.yaml" <<YAML
port: $LK_PORT
bind_addresses: ["127.0.0.1"]
rtc:
  tcp_port: $LK_TCP
  port_range_start: $UDP_START
  port_range_end: $UDP_END
  use_external_ip: false
prometheus:
  port: $PROM_PORT
keys:
  $KEY: $SECRET
webhook:
  api_key: $KEY
  urls:
    - http://127.0.0.1:$WEBHOOK_PORT/webhook
logging:
  level: info
YAML

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

# --- run ------------------------------------------------------------------------------
if [ -n "$MONGO_PY" ]; then
  printf '[storage]\ncache_size = "256M"\n' > "$WORK/secantusd.toml"
  "$LKA_SECANTUSD" --config "$WORK/secantusd.toml" --host 127.0.0.1 --port "$MONGO_PORT" \
    --storage-path "$WORK/mongo" >"$WORK/mongo.log" 2>&1 &
  MONGO_PID=$!
  wait_port "$MONGO_PORT" 60 "secantusd-py" || { tail -n 30 "$WORK/mongo.log" >&2; exit 1; }
fi
"$HOST_BIN" --config "$WORK/host.yaml" run >"$WORK/host.log" 2>&1 &
HOST_PID=$!
wait_port "$WEBHOOK_PORT" 20 "the host" || { dump_logs; exit 1; }

"$LK_BIN" --config "$WORK/livekit.yaml" --dev --bind 127.0.0.1 --node-ip 127.0.0.1 >"$WORK/livekit.log" 2>&1 &
LK_PID=$!
wait_port "$LK_PORT" 30 "livekit-server" || { dump_logs; exit 1; }
log "host pid $HOST_PID on :$WEBHOOK_PORT, livekit-server pid $LK_PID on :$LK_PORT"

if ! LK_URL="http://127.0.0.1:$LK_PORT" LK_API_KEY="$KEY" LK_API_SECRET="$SECRET" \
    timeout 120 "$PY" "$ROOT/scripts/livekit-e2e-client.py" >"$WORK/ids.json" 2>"$WORK/client.log"; then
  log "the LiveKit client failed:"; cat "$WORK/client.log" >&2; dump_logs; exit 1
fi
log "client: $(tr -d '\n' < "$WORK/ids.json")"

# Webhooks are sent asynchronously; room_finished follows the delete. Wait (up to 30 s,
# for loaded machines) until the last one is stored, and let a few Prometheus scrapes happen.
ROOM_SID="$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["room_sid"])' "$WORK/ids.json")"
for _ in $(seq 1 300); do
  if cat "$WORK"/store/events-*.jsonl 2>/dev/null | grep -F "\"$ROOM_SID\"" | grep -q '"ROOM_ENDED"'; then break; fi
  sleep 0.1
done
sleep 2
kill "$LK_PID"; wait "$LK_PID" 2>/dev/null || true; LK_PID=""
kill "$HOST_PID"; wait "$HOST_PID" 2>/dev/null || true; HOST_PID=""   # SIGTERM: final flush

if ! "$PY" "$ROOT/scripts/livekit-e2e-check.py" "$WORK/store" "$WORK/ids.json" >&2; then
  dump_logs; exit 1
fi
if [ -n "$MONGO_PY" ]; then
  log "checking MongoDB (openvidu.events on the MongoDB-wire server)"
  if ! "$MONGO_PY" "$ROOT/scripts/livekit-e2e-check.py" \
      "mongodb://127.0.0.1:$MONGO_PORT/?directConnection=true" "$WORK/ids.json" >&2; then
    dump_logs; tail -n 30 "$WORK/mongo.log" >&2; exit 1
  fi
fi
if [ "${LKA_E2E_NODE_STATS:-0}" = 1 ]; then
  n=$(cat "$WORK"/store/node_stats-*.jsonl 2>/dev/null | wc -l)
  if [ "$n" -lt 1 ]; then log "no node_stats documents were stored"; dump_logs; exit 1; fi
  log "node_stats documents: $n"; head -c 600 "$(ls "$WORK"/store/node_stats-*.jsonl | head -1)" >&2; echo >&2
fi
log "PASSED"

#!/usr/bin/env bash
# End to end against a real livekit-server, through webhooks: builds livekit-server v1.13.5
# (livekit/build.sh: the project's patched build, which without an `analytics_export`
# section behaves as the stock server) and a Python venv with the LiveKit SDKs into the
# cache directory, starts the host (embedded file store) and livekit-server --dev on
# loopback with webhook.urls pointing at the host, runs a real client (create room, join,
# publish audio, unpublish, leave, delete room), stops both by PID and checks the stored
# events: in the embedded file store always, and in a MongoDB-wire server (SecantusDB) as
# well when scripts/install-test-deps.sh has installed one (LKA_SECANTUSD in
# $CACHE/test-env.sh).
#
#   scripts/livekit-e2e.sh            # exit 0: passed; 1: failed; 77: could not install
#   LKA_E2E_KEEP=1 scripts/livekit-e2e.sh   # keep the work directory and logs
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TAG="livekit-e2e"
# shellcheck source=scripts/livekit-e2e-lib.sh
. "$ROOT/scripts/livekit-e2e-lib.sh"
lk_setup
[ -n "$MONGO_PY" ] || log "no MongoDB-wire server installed (scripts/install-test-deps.sh): checking the file store only"

# --- configuration ------------------------------------------------------------------
read -r WEBHOOK_PORT LK_PORT LK_TCP PROM_PORT MONGO_PORT <<<"$(free_ports 5)"
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
$(livekit_rtc_yaml "$LK_TCP")
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

# --- run ------------------------------------------------------------------------------
[ -n "$MONGO_PY" ] && start_mongo "$MONGO_PORT"
start_host "$WORK/host.yaml" "$WEBHOOK_PORT"
start_livekit "$WORK/livekit.yaml" "$LK_PORT"
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
stop_pid LK_PID
stop_pid HOST_PID   # SIGTERM: final flush

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

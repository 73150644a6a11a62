#!/usr/bin/env bash
# End to end with the patched livekit-server's analytics export (livekit/): builds it with
# livekit/build.sh, starts the MongoDB-wire server (when installed, as scripts/livekit-e2e.sh
# does), the host (gRPC door with a token, file store, MongoDB) and livekit-server with
# `analytics_export` pointing at the host's gRPC door and NO webhook, then a real session
# (scripts/livekit-export-client.py: alice publishes audio and video, bob subscribes, alice
# mutes and unmutes, both leave, the room is deleted). Host and livekit-server read one
# and the same config file.
#
#   LKA_EXPORT_SCENARIO=session       (default) waits until the stats are stored (livekit-server
#                                     flushes them every 30 s), checks every event with its
#                                     ids, stats with scores, node rooms, nothing stored twice;
#                                     the export goes through scripts/livekit-export-tap.py,
#                                     which records it and then delivers it all a second time:
#                                     nothing new may be stored
#   LKA_EXPORT_SCENARIO=host-restart  the host is stopped for 10 s mid-session (alice mutes
#                                     meanwhile) and restarted; reports what arrived and what
#                                     was lost; livekit-server must keep serving
#   LKA_EXPORT_SCENARIO=closed-port   analytics_export.url points at a closed port (a tiny
#                                     queue): the session works, drops are counted and logged
#
# Exit code: 0 passed, 1 failed, 77 a tool could not be installed. LKA_E2E_KEEP=1 keeps
# the work directory. The last line of stderr before PASSED is a JSON summary.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TAG="livekit-export-e2e"
SCENARIO="${LKA_EXPORT_SCENARIO:-session}"
# shellcheck source=scripts/livekit-e2e-lib.sh
. "$ROOT/scripts/livekit-e2e-lib.sh"
lk_setup
T0=$(date +%s)
elapsed() { echo $(( $(date +%s) - T0 )); }
case "$SCENARIO" in session|host-restart|closed-port) ;; *) log "unknown scenario $SCENARIO"; exit 1 ;; esac

# --- configuration: one file for the host and livekit-server ----------------------------
read -r LK_PORT LK_TCP PROM_PORT WEBHOOK_PORT GRPC_PORT TELEMETRY_PORT MONGO_PORT TAP_PORT CLOSED_PORT \
  REDIS_PORT <<<"$(free_ports 10)"
KEY="devkey"
SECRET="e2e-secret-that-is-at-least-32-characters"
TOKEN="export-e2e-token"
MONGO_URL="mongodb://127.0.0.1:$MONGO_PORT/?directConnection=true"
case "$SCENARIO" in
  session) EXPORT_URL="http://127.0.0.1:$TAP_PORT"; QUEUE=10000 ;;
  host-restart) EXPORT_URL="http://127.0.0.1:$GRPC_PORT"; QUEUE=10000 ;;
  closed-port) EXPORT_URL="http://127.0.0.1:$CLOSED_PORT"; QUEUE=3 ;;
esac
CTL="$WORK/ctl"
STORE="$WORK/store"
mkdir -p "$CTL"
# The session also goes to the deployment's Redis (livekit-server uses it too, as in
# production) and to the Rust example plugin (JSON Lines in a granted folder).
REDIS_YAML="" PLUGIN_YAML="" PLUGIN_OUT="$WORK/plugin-out"
if [ "$SCENARIO" = session ]; then
  if [ -n "${LKA_REDIS_SERVER:-}" ] && [ -x "$LKA_REDIS_SERVER" ]; then
    REDIS_YAML="redis:
  address: 127.0.0.1:$REDIS_PORT"
  elif [ "${LKA_REQUIRE_LIVEKIT:-0}" = 1 ]; then
    log "no redis-server (scripts/install-test-deps.sh)"; exit 1
  fi
  PLUGIN_WASM="$ROOT/plugins/dist/rust-jsonl.wasm"
  if [ -f "$PLUGIN_WASM" ]; then
    mkdir -p "$PLUGIN_OUT"
    PLUGIN_YAML="    plugins:
      - name: jsonl
        path: $PLUGIN_WASM
        config: { dir: /data }
        grants: { dirs: [ { host: $PLUGIN_OUT, guest: /data } ] }"
  elif [ "${LKA_REQUIRE_PLUGINS:-0}" = 1 ]; then
    log "no $PLUGIN_WASM (scripts/build-plugins.sh)"; exit 1
  fi
fi

cat > "$WORK/config.yaml" <<YAML
# livekit-server reads all of this except openvidu:, the host only keys: and openvidu:.
port: $LK_PORT
bind_addresses: ["127.0.0.1"]
$(livekit_rtc_yaml "$LK_TCP")
prometheus:
  port: $PROM_PORT
keys:
  $KEY: $SECRET
logging:
  level: info
$REDIS_YAML
# No webhook: this node exports its analytics (docs/ingest.md, "Webhooks or the export").
openvidu:
  analytics:
    interval: 1s
$( [ -n "$MONGO_PY" ] && echo "    mongo_url: \"$MONGO_URL\"" )
$( [ -n "$REDIS_YAML" ] && echo "    redis: { enabled: true }" )
$PLUGIN_YAML
    file:
      enabled: true
      dir: $STORE
    telemetry:
      listen: "127.0.0.1:$TELEMETRY_PORT"
    ingest:
      webhook:
        listen: "127.0.0.1:$WEBHOOK_PORT"
      grpc:
        listen: "127.0.0.1:$GRPC_PORT"
        token: &ingest_token $TOKEN
analytics_export:
$( [ "$SCENARIO" != closed-port ] && printf '  url: %s\n  token: *ingest_token\n' "$EXPORT_URL" )
  queue_size: $QUEUE
  node_rooms_interval: 2s
YAML
# closed-port: the URL and the token come from the environment instead.
[ "$SCENARIO" = closed-port ] && export LIVEKIT_ANALYTICS_EXPORT_URL="$EXPORT_URL" LIVEKIT_ANALYTICS_EXPORT_TOKEN="$TOKEN"

metric() { # url name-prefix: "name{labels} value" lines
  "$PY" -c '
import sys, urllib.request
for line in urllib.request.urlopen(sys.argv[1], timeout=5).read().decode().splitlines():
    if line.startswith(sys.argv[2]): print(line)' "$1" "$2"
}
export_metrics() { metric "http://127.0.0.1:$PROM_PORT/metrics" livekit_analytics_export_records_total; }
export_summary() { # {"events": {"queued": n, ...}, ...} from livekit-server's /metrics
  export_metrics | "$PY" -c '
import json, re, sys
out = {}
for line in sys.stdin:
    m = re.search(r"outcome=\"(\w+)\".*stream=\"(\w+)\"\} (\S+)", line)
    if m:
        out.setdefault(m.group(2), {})[m.group(1)] = int(float(m.group(3)))
print(json.dumps(out, sort_keys=True))'
}
final_export() { # the counts livekit-server logs when its export stops
  "$PY" -c '
import json, sys
for line in open(sys.argv[1]):
    if "analytics export stopped\t" in line:
        d = json.loads(line[line.index("{"):])
        print(json.dumps({"events": d["events"], "stats": d["stats"], "node_rooms": d["nodeRooms"]}))' \
    "$WORK/livekit.log"
}
until_ready() { # what seconds: poll the file store
  local deadline=$(( $(date +%s) + $2 ))
  until "$PY" "$ROOT/scripts/livekit-export-check.py" ready "$STORE" "$CTL/ids.json" "$1"; do
    if [ "$(date +%s)" -ge "$deadline" ]; then log "timed out after $2 s waiting for: $1"; return 1; fi
    if [ -n "$CLIENT_PID" ] && ! kill -0 "$CLIENT_PID" 2>/dev/null; then log "the client ended early"; return 1; fi
    sleep 0.5
  done
  log "stored: $1 (at $(elapsed) s)"
}
fail() { log "FAILED: $*"; log "---- client log ----"; cat "$WORK/client.log" >&2 || true; dump_logs; exit 1; }

# --- run ------------------------------------------------------------------------------
CLIENT_PID=""
if [ "$SCENARIO" != closed-port ]; then
  [ -n "$MONGO_PY" ] && start_mongo "$MONGO_PORT"
  if [ -n "$REDIS_YAML" ]; then
    "$LKA_REDIS_SERVER" --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
      --dir "$WORK" >"$WORK/redis.log" 2>&1 &
    EXTRA_PIDS+=($!)
    wait_port "$REDIS_PORT" 20 "redis-server" || { cat "$WORK/redis.log" >&2; exit 1; }
  fi
  start_host "$WORK/config.yaml" "$GRPC_PORT"
  if [ "$SCENARIO" = session ]; then
    "$PY" "$ROOT/scripts/livekit-export-tap.py" serve "$TAP_PORT" "127.0.0.1:$GRPC_PORT" "$WORK/tap.rec" \
      >"$WORK/tap.log" 2>&1 &
    EXTRA_PIDS+=($!)
    wait_port "$TAP_PORT" 20 "the tap" || { cat "$WORK/tap.log" >&2; exit 1; }
  fi
else
  touch "$CTL/mute" "$CTL/stop"   # no store to wait on: run the session straight through
fi
start_livekit "$WORK/config.yaml" "$LK_PORT"
grep -q "analytics export on" "$WORK/livekit.log" || fail "livekit-server did not turn the export on"
log "$SCENARIO: livekit-server pid $LK_PID on :$LK_PORT exporting to $EXPORT_URL (at $(elapsed) s)"

LK_URL="http://127.0.0.1:$LK_PORT" LK_API_KEY="$KEY" LK_API_SECRET="$SECRET" LK_CTL_DIR="$CTL" \
  timeout 150 "$PY" "$ROOT/scripts/livekit-export-client.py" >"$WORK/ids.json" 2>"$WORK/client.log" &
CLIENT_PID=$!
EXTRA_PIDS+=("$CLIENT_PID")

case "$SCENARIO" in
  session)
    until_ready subscribed 30 || fail "subscriptions not stored"
    touch "$CTL/mute"
    # livekit-server hands its stats over every 30 s (telemetryStatsUpdateInterval).
    until_ready stats 60 || fail "stats not stored"
    touch "$CTL/stop"
    ;;
  host-restart)
    until_ready subscribed 30 || fail "subscriptions not stored"
    before="$(export_summary)"
    stop_pid HOST_PID
    log "host stopped (at $(elapsed) s); alice mutes and unmutes while it is down"
    touch "$CTL/mute"
    sleep 10
    kill -0 "$LK_PID" 2>/dev/null || fail "livekit-server died while the host was down"
    during="$(export_summary)"
    start_host "$WORK/config.yaml" "$GRPC_PORT"
    log "host restarted (at $(elapsed) s)"
    until_ready stats 60 || fail "stats not stored"
    touch "$CTL/stop"
    ;;
esac

wait "$CLIENT_PID" || fail "the LiveKit client failed"
CLIENT_PID=""
log "client: $(tr -d '\n' < "$WORK/ids.json") (at $(elapsed) s)"

if [ "$SCENARIO" = closed-port ]; then
  sleep 3   # a few node-room reports and failed sends
  kill -0 "$LK_PID" 2>/dev/null || fail "livekit-server died"
  grep -q "analytics export queue full, dropped the oldest records" "$WORK/livekit.log" \
    || fail "no log line about dropped records"
  metrics="$(export_summary)"
  t=$(date +%s%N)
  stop_pid LK_PID
  stop_ms=$(( ($(date +%s%N) - t) / 1000000 ))
  summary="$(final_export)"
  "$PY" - "$summary" "$stop_ms" "$metrics" >&2 <<'PY' || fail "drops not counted as expected"
import json, sys
s, stop_ms, metrics = json.loads(sys.argv[1]), int(sys.argv[2]), json.loads(sys.argv[3])
print(json.dumps({"scenario": "closed-port", "export_at_stop": s, "metrics_before_stop": metrics,
                  "livekit_stop_ms": stop_ms}))
assert metrics["events"]["dropped"] > 0, "/metrics counts the drops"
assert all(v.get("sent", 0) == 0 for v in s.values()), "nothing can have been sent"
assert s["events"]["dropped"] > 0 and s["node_rooms"]["dropped"] > 0, "drops are counted"
assert s["events"]["queued"] >= 15, "the session's events reached the export"
assert stop_ms < 10000, "livekit-server stops within its flush deadline"
PY
  log "PASSED"
  exit 0
fi

until_ready room_ended 20 || fail "ROOM_ENDED not stored"
until_ready node_rooms 10 || fail "no node room snapshot"
stop_pid LK_PID   # SIGTERM: the export flushes what it still holds
summary="$(final_export)"
[ -n "$summary" ] || fail "livekit-server did not log the export's final counts"
sleep 2           # one more round of the host's sinks (interval: 1s)

if [ "$SCENARIO" = session ]; then
  "$PY" "$ROOT/scripts/livekit-export-check.py" check "$STORE" "$CTL/ids.json" >&2 || fail "file store"
  [ -n "$MONGO_PY" ] && { "$MONGO_PY" "$ROOT/scripts/livekit-export-check.py" check "$MONGO_URL" "$CTL/ids.json" >&2 \
    || fail "MongoDB"; }
  # Redis and the plugin take events and stats (not node rooms).
  [ -n "$REDIS_YAML" ] && { "$PY" "$ROOT/scripts/livekit-export-check.py" check-events-stats \
    "redis://127.0.0.1:$REDIS_PORT" "$CTL/ids.json" >&2 || fail "Redis"; }
  [ -n "$PLUGIN_YAML" ] && { "$PY" "$ROOT/scripts/livekit-export-check.py" check-events-stats \
    "$PLUGIN_OUT" "$CTL/ids.json" >&2 || fail "the plugin's JSON Lines"; }
  # The read API (from MongoDB when it is configured, else the file store's index).
  "$PY" "$ROOT/scripts/livekit-export-check.py" api "http://127.0.0.1:$TELEMETRY_PORT" "$CTL/ids.json" >&2 \
    || fail "the read API"
  # Deliver the whole recorded export a second time: nothing new may be stored.
  files_before="$("$PY" "$ROOT/scripts/livekit-export-check.py" counts "$STORE")"
  [ -n "$MONGO_PY" ] && mongo_before="$("$MONGO_PY" "$ROOT/scripts/livekit-export-check.py" counts "$MONGO_URL")"
  dup_metric() { metric "http://127.0.0.1:$TELEMETRY_PORT/metrics" 'analytics_sink_duplicates_total{sink="mongo' | awk '{s+=$2} END {print s+0}'; }
  dups_before="$(dup_metric)"
  replayed="$("$PY" "$ROOT/scripts/livekit-export-tap.py" replay "127.0.0.1:$GRPC_PORT" "$WORK/tap.rec" "$TOKEN")"
  log "delivered again: $replayed"
  total="$("$PY" -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["events"]+d["stats"]+d["node_rooms"])' "$replayed")"
  if [ -n "$MONGO_PY" ]; then
    for _ in $(seq 1 100); do
      [ $(( $(dup_metric) - dups_before )) -ge "$total" ] && break
      sleep 0.2
    done
  else
    sleep 3
  fi
  stop_pid HOST_PID
  files_after="$("$PY" "$ROOT/scripts/livekit-export-check.py" counts "$STORE")"
  [ -n "$MONGO_PY" ] && mongo_after="$("$MONGO_PY" "$ROOT/scripts/livekit-export-check.py" counts "$MONGO_URL")"
  "$PY" - "$summary" "$replayed" "$files_before" "$files_after" "${mongo_before:-null}" "${mongo_after:-null}" \
    "$(( $(date +%s) - T0 ))" >&2 <<'PY' || fail "a second delivery stored something new"
import json, sys
export, replayed, fb, fa, mb, ma = (json.loads(a) for a in sys.argv[1:7])
print(json.dumps({"scenario": "session", "export": export, "delivered_again": replayed,
                  "file_store": {"before": fb, "after": fa}, "mongodb": {"before": mb, "after": ma},
                  "seconds": int(sys.argv[7])}))
for c in fb:
    assert fa[c]["distinct"] == fb[c]["distinct"], f"file store {c}: new ids after the second delivery"
    if mb:
        assert ma[c]["docs"] == mb[c]["docs"], f"MongoDB {c}: documents added by the second delivery"
for stream in ("events", "stats", "node_rooms"):
    assert export[stream].get("dropped", 0) == 0, f"{stream}: drops"
PY
  log "PASSED"
  exit 0
fi

# host-restart: what arrived, what was lost.
stop_pid HOST_PID
"$PY" "$ROOT/scripts/livekit-export-check.py" check "$STORE" "$CTL/ids.json" >&2 \
  || log "(the file store may hold a line twice after a retried batch: at least once)"
source_store="$STORE"; checker="$PY"
if [ -n "$MONGO_PY" ]; then
  source_store="$MONGO_URL"; checker="$MONGO_PY"
  "$MONGO_PY" "$ROOT/scripts/livekit-export-check.py" check "$MONGO_URL" "$CTL/ids.json" >&2 \
    || fail "MongoDB after the host restart"
fi
stored="$("$checker" "$ROOT/scripts/livekit-export-check.py" counts "$source_store")"
"$PY" - "$before" "$during" "$summary" "$stored" "$(( $(date +%s) - T0 ))" >&2 <<'PY' || fail "records lost"
import json, sys
before, during, after, stored = (json.loads(a) for a in sys.argv[1:5])
lost = {s: after[s]["queued"] - stored[s]["distinct"] for s in ("events", "stats", "node_rooms")}
print(json.dumps({"scenario": "host-restart", "export_before_stop": before,
                  "export_while_down": during, "export_at_end": after, "stored": stored,
                  "lost": lost, "seconds": int(sys.argv[5])}))
assert all(v == 0 for v in lost.values()), f"lost across the restart: {lost}"
PY
log "PASSED"

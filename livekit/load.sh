#!/usr/bin/env bash
# A load test with real participants through the patched livekit-server (the newest
# supported release unless LKA_LIVEKIT_VERSION says otherwise): LOAD_ROOMS rooms of
# LOAD_PEOPLE publishers each (the real Python SDK, scripts/livekit-bench-client.py:
# audio, simulcast video 640x360/15 fps, a mute/unmute every LOAD_MUTE_EVERY s) plus one
# viewer per room, for LOAD_SECONDS, then everyone leaves. The host stores into its file
# store. Prints one table row:
#   - participants, and the records livekit-server's export queued, had acknowledged
#     (`sent`) and dropped, by stream (its own metric, livekit_analytics_export_records_total);
#   - the records the host stored (distinct `_id`s in its file store, counted after the
#     host was stopped with SIGTERM, which stores what it had acknowledged), and how many
#     of the acknowledged ones are missing (lost);
#   - the CPU time of livekit-server and of the host over the run, and the host's as a share
#     of livekit-server's; the host's peak RSS;
#   - the video frames a second the publishers captured, lowest and mean (15 when the
#     machine keeps up: below that the clients are starved and N x M is past what it holds).
#
#   LKA_HOST_BIN=target/release/analytics-host livekit/load.sh
#   LOAD_ROOMS=2 LOAD_PEOPLE=3 LOAD_SECONDS=180 livekit/load.sh
# The SDK's encoders run on the same machine: livekit-server's CPU is the SFU's alone, the
# clients' is not counted.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TAG="livekit-load"
# shellcheck source=../scripts/livekit-e2e-lib.sh
. "$ROOT/scripts/livekit-e2e-lib.sh"
lk_setup
ROOMS="${LOAD_ROOMS:-2}"
PEOPLE="${LOAD_PEOPLE:-3}"
SECONDS_RUN="${LOAD_SECONDS:-180}"
MUTE_EVERY="${LOAD_MUTE_EVERY:-10}"
KEY="devkey"
SECRET="load-secret-that-is-at-least-32-characters"

read -r GRPC_PORT WEBHOOK_PORT TELEMETRY_PORT LK_PORT LK_TCP PROM <<<"$(free_ports 6)"
cat > "$WORK/host.yaml" <<YAML
openvidu:
  analytics:
    file: { enabled: true, dir: $WORK/store }
    telemetry: { listen: "127.0.0.1:$TELEMETRY_PORT" }
    ingest:
      webhook: { listen: "127.0.0.1:$WEBHOOK_PORT" }
      grpc: { listen: "127.0.0.1:$GRPC_PORT" }
YAML
start_host "$WORK/host.yaml" "$GRPC_PORT"
{
  printf 'port: %s\nbind_addresses: ["127.0.0.1"]\n' "$LK_PORT"
  livekit_rtc_yaml "$LK_TCP"
  printf 'prometheus:\n  port: %s\nkeys:\n  %s: %s\nlogging:\n  level: warn\n' "$PROM" "$KEY" "$SECRET"
  printf 'analytics_export:\n  url: http://127.0.0.1:%s\n  node_rooms_interval: 5s\n' "$GRPC_PORT"
} > "$WORK/livekit.yaml"
start_livekit "$WORK/livekit.yaml" "$LK_PORT"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
HZ="$(getconf CLK_TCK)"
log "$ROOMS rooms x $PEOPLE publishers (+1 viewer each), simulcast 640x360, ${SECONDS_RUN} s"
lk0=$(cpu_ticks "$LK_PID"); h0=$(cpu_ticks "$HOST_PID"); t0=$(date +%s)
LK_URL="http://127.0.0.1:$LK_PORT" LK_API_KEY="$KEY" LK_API_SECRET="$SECRET" \
  LK_ROOMS="$ROOMS" LK_PUBLISHERS="$PEOPLE" LK_DURATION="$SECONDS_RUN" LK_SIMULCAST=1 \
  LK_WIDTH=640 LK_HEIGHT=360 LK_MUTE_EVERY="$MUTE_EVERY" \
  "$PY" "$ROOT/scripts/livekit-bench-client.py" >"$WORK/client.log" 2>&1 \
  || { log "the load client failed:"; tail -n 30 "$WORK/client.log" >&2; exit 1; }
# The rooms are deleted: the last events and a node-rooms report, then a few host rounds.
sleep 12
lk1=$(cpu_ticks "$LK_PID"); h1=$(cpu_ticks "$HOST_PID"); t1=$(date +%s)
peak_kb=$(awk '/^VmHWM:/ {print $2}' "/proc/$HOST_PID/status")
# What the export had acknowledged, then the host stopped (SIGTERM: it stores what it
# acknowledged and still holds, at most an `interval` of records), then the store counted.
"$PY" -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' \
  "http://127.0.0.1:$PROM/metrics" > "$WORK/export.metrics" \
  || { log "livekit-server's metrics did not answer"; exit 1; }
stop_pid HOST_PID
# Whether the clients kept up: the video frames a second each publisher captured.
fps="$(sed -n 's/^bench client: video fps min \([0-9.]*\) mean \([0-9.]*\) .*/\1 \/ \2/p' "$WORK/client.log")"
"$PY" - "$WORK/export.metrics" "$WORK/store" "$ROOMS" "$PEOPLE" \
  "$lk0" "$lk1" "$h0" "$h1" "$HZ" "$t0" "$t1" "$peak_kb" "${fps:-?}" <<'PY'
import glob, json, os, sys
metrics, store, rooms, people, lk0, lk1, h0, h1, hz, t0, t1, peak_kb, fps = sys.argv[1:]
export = {}
for line in open(metrics).read().splitlines():
    if line.startswith("livekit_analytics_export_records_total{"):
        labels, value = line.rsplit(" ", 1)
        fields = dict(kv.split("=", 1) for kv in labels[labels.index("{") + 1:-1].split(","))
        key = (fields["stream"].strip('"'), fields["outcome"].strip('"'))
        export[key] = export.get(key, 0) + float(value)
stored = {}
for path in glob.glob(os.path.join(store, "*.jsonl")):
    collection = os.path.basename(path).rsplit("-", 3)[0]
    ids = stored.setdefault(collection, set())
    for line in open(path):
        if line.strip():
            ids.add(json.loads(line)["_id"])
streams = {"events": "events", "stats": "stats", "node_rooms": "node_rooms"}
seconds = int(t1) - int(t0)
lk_cpu = (int(lk1) - int(lk0)) / int(hz)
host_cpu = (int(h1) - int(h0)) / int(hz)
cells = []
lost_total = 0
for stream, collection in streams.items():
    sent = int(export.get((stream, "sent"), 0))
    dropped = int(export.get((stream, "dropped"), 0))
    have = len(stored.get(collection, ()))
    lost = max(sent - have, 0)
    lost_total += lost + dropped
    cells.append(f"{sent} / {have} / {dropped}")
share = host_cpu / lk_cpu * 100 if lk_cpu else float("nan")
print("| rooms × publishers | participants | events sent / stored / dropped | stats sent / stored / dropped "
      "| node-room states sent / stored / dropped | lost | livekit-server CPU s | host CPU s | host / livekit-server "
      "| host peak RSS | publishers' video fps min / mean (of 15) |")
print("|---|---:|---|---|---|---:|---:|---:|---:|---:|---:|")
print(f"| {rooms} × {people} | {int(rooms) * (int(people) + 1)} | {cells[0]} | {cells[1]} | {cells[2]} "
      f"| {lost_total} | {lk_cpu:.1f} | {host_cpu:.2f} | {share:.2f} % | {int(peak_kb) / 1024:.0f} MiB | {fps} |")
print(f"livekit-load: {seconds} s measured", file=sys.stderr)
sys.exit(1 if lost_total else 0)
PY

#!/usr/bin/env bash
# What the analytics export costs the SFU: runs the patched livekit-server under the same
# load twice per round, once with `analytics_export` streaming to a host and once without
# the section (the stock behaviour), and prints per run the SFU's CPU (utime + stime of the
# livekit-server process over the measured window, in % of one core), the events and stats
# per second the host received, and the records the export dropped.
#
#   livekit/bench.sh                  # 4 publishers, 60 s per run, 1 round (off, on)
#   BENCH_PUBLISHERS=8 BENCH_SECONDS=60 BENCH_ROUNDS=2 livekit/bench.sh
#   BENCH_PROFILE=1 livekit/bench.sh  # also profile the "on" runs (--cpuprofile) and print the
#                                     # share of the export and its gRPC client in the profile
#                                     # (profiling adds its own cost to those runs' CPU)
#
# Load (scripts/livekit-bench-client.py): each publisher sends audio (a tone) and video
# (320x240, 15 fps) and mutes/unmutes every second (2 events/s each); one viewer subscribes
# to all. The client runs on the same machine, so its encoding shares the cores: compare
# the two runs of a round, not absolute numbers. The host uses the file store only.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TAG="livekit-bench"
# shellcheck source=../scripts/livekit-e2e-lib.sh
. "$ROOT/scripts/livekit-e2e-lib.sh"
lk_setup
PUBLISHERS="${BENCH_PUBLISHERS:-4}"
SECONDS_PER_RUN="${BENCH_SECONDS:-60}"
ROUNDS="${BENCH_ROUNDS:-1}"
WARMUP=10
KEY="devkey"
SECRET="bench-secret-that-is-at-least-32-characters"

read -r GRPC_PORT WEBHOOK_PORT TELEMETRY_PORT <<<"$(free_ports 3)"
cat > "$WORK/host.yaml" <<YAML
openvidu:
  analytics:
    interval: 1s
    file: { enabled: true, dir: $WORK/store }
    telemetry: { listen: "127.0.0.1:$TELEMETRY_PORT" }
    ingest:
      webhook: { listen: "127.0.0.1:$WEBHOOK_PORT" }
      grpc: { listen: "127.0.0.1:$GRPC_PORT" }
YAML
start_host "$WORK/host.yaml" "$GRPC_PORT"

counter() { # url line-prefix: the sum of the matching samples
  "$PY" -c '
import sys, urllib.request
total = 0.0
for line in urllib.request.urlopen(sys.argv[1], timeout=5).read().decode().splitlines():
    if line.startswith(sys.argv[2]):
        total += float(line.rsplit(" ", 1)[1])
print(int(total))' "$1" "$2"
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
HZ="$(getconf CLK_TCK)"

run() { # on|off -> prints one result line
  local mode="$1" lk_port lk_tcp prom
  read -r lk_port lk_tcp prom <<<"$(free_ports 3)"
  {
    printf 'port: %s\nbind_addresses: ["127.0.0.1"]\n' "$lk_port"
    livekit_rtc_yaml "$lk_tcp"
    printf 'prometheus:\n  port: %s\nkeys:\n  %s: %s\nlogging:\n  level: warn\n' "$prom" "$KEY" "$SECRET"
    [ "$mode" = on ] && printf 'analytics_export:\n  url: http://127.0.0.1:%s\n' "$GRPC_PORT"
  } > "$WORK/livekit-$mode.yaml"
  local profile=()
  [ "$mode" = on ] && [ "${BENCH_PROFILE:-0}" = 1 ] && profile=(--cpuprofile "$WORK/cpu-$mode-$round.pprof")
  start_livekit "$WORK/livekit-$mode.yaml" "$lk_port" "${profile[@]}"
  LK_URL="http://127.0.0.1:$lk_port" LK_API_KEY="$KEY" LK_API_SECRET="$SECRET" \
    LK_PUBLISHERS="$PUBLISHERS" LK_DURATION=$(( SECONDS_PER_RUN + WARMUP + 2 )) \
    "$PY" "$ROOT/scripts/livekit-bench-client.py" >>"$WORK/client.log" 2>&1 &
  local client=$!
  sleep "$WARMUP"
  local host_url="http://127.0.0.1:$TELEMETRY_PORT/metrics"
  local c0 e0 s0 t0 c1 e1 s1 t1 drops
  c0=$(cpu_ticks "$LK_PID"); t0=$(date +%s%N)
  e0=$(counter "$host_url" 'analytics_items_received_total{door="grpc",kind="events"}')
  s0=$(counter "$host_url" 'analytics_items_received_total{door="grpc",kind="stats"}')
  sleep "$SECONDS_PER_RUN"
  c1=$(cpu_ticks "$LK_PID"); t1=$(date +%s%N)
  e1=$(counter "$host_url" 'analytics_items_received_total{door="grpc",kind="events"}')
  s1=$(counter "$host_url" 'analytics_items_received_total{door="grpc",kind="stats"}')
  drops=$(metric_dropped "http://127.0.0.1:$prom/metrics")
  wait "$client" || log "the bench client failed (see $WORK/client.log)"
  stop_pid LK_PID
  "$PY" -c '
import sys
mode, c0, c1, t0, t1, e0, e1, s0, s1, hz, drops = sys.argv[1:]
dt = (int(t1) - int(t0)) / 1e9
cpu = (int(c1) - int(c0)) / int(hz) / dt * 100
print(f"| {mode:3} | {cpu:6.1f} | {(int(e1) - int(e0)) / dt:8.2f} | {(int(s1) - int(s0)) / dt:7.2f} | {drops:>5} |")' \
    "$mode" "$c0" "$c1" "$t0" "$t1" "$e0" "$e1" "$s0" "$s1" "$HZ" "$drops"
  if [ "${#profile[@]}" -gt 0 ] && [ -n "$GO" ]; then
    # Where the SFU's CPU went, by its own profile: the export's functions and the gRPC
    # client (whose transport goroutines carry no export frame), over the whole run.
    local share
    share="$("$GO" tool pprof -top -nodecount=100000 -nodefraction=0 \
      -focus='analyticsExport|exportStream|rawCodec|StartNodeRoomsReport|analyticsRooms|google.golang.org/grpc' \
      "$LK_BIN" "$WORK/cpu-$mode-$round.pprof" 2>/dev/null | sed -n 's/^Showing nodes accounting for \(.*\) total$/\1/p')"
    PROFILES+=("round $round: export and gRPC client: $share profiled livekit-server CPU")
  fi
}
metric_dropped() { # the export's dropped records, or - when the export is off
  "$PY" -c '
import sys, urllib.request
lines = [l for l in urllib.request.urlopen(sys.argv[1], timeout=5).read().decode().splitlines()
         if l.startswith("livekit_analytics_export_records_total")]
dropped = [float(l.rsplit(" ", 1)[1]) for l in lines if "outcome=\"dropped\"" in l]
print(int(sum(dropped)) if lines else "-")' "$1"
}

log "$PUBLISHERS publishers, ${SECONDS_PER_RUN} s measured per run after ${WARMUP} s, $ROUNDS round(s)"
echo "| export | SFU CPU % of a core | events/s at the host | stats/s | drops |"
echo "|---|---|---|---|---|"
GO=/usr/local/go/bin/go
[ -x "$GO" ] || GO="$(command -v go || true)"
PROFILES=()
for round in $(seq 1 "$ROUNDS"); do
  run off
  run on
done
printf '%s\n' ${PROFILES[@]+"${PROFILES[@]}"}

#!/usr/bin/env bash
# Webhook door throughput against the real binary, driven from outside by Debian's `wrk`:
# 1000 distinct webhooks signed as livekit-server signs them (HS256, sha256 claim), cycled
# by a Lua script, posted to a release `analytics-host run` storing to the file store; then
# the same process's `/health` under the same `wrk` settings, as the HTTP stack's pace.
# Prints one table: req/s of each, their ratio, host CPU per webhook (utime + stime from
# /proc over the webhook run), non-2xx answers; and the floor: the same requests under the
# same `wrk` posted to `benches/webhook_floor.rs` (the same HTTP stack, a route that reads
# the body and answers 200, nothing else), its req/s and the host's share of it.
#
#   scripts/bench-webhook.sh                 # 10 s per run, -t1 -c32, 3 rounds
#   BENCH_SECONDS=20 BENCH_ROUNDS=5 BENCH_CONNECTIONS=64 scripts/bench-webhook.sh
#   BENCH_PERF=1 scripts/bench-webhook.sh    # also `perf record` one webhook run and print
#                                            # the top of the report (needs perf; function
#                                            # names only, or BENCH_PROFILE=profiling for lines)
#   BENCH_PERF_OUT=FILE                      # with BENCH_PERF=1: keep perf.data there
#   BENCH_BIN=path/to/analytics-host scripts/bench-webhook.sh   # another build, same load
#   BENCH_FLOOR=0 scripts/bench-webhook.sh   # without the floor columns
#   BENCH_FILE_INDEX=false scripts/bench-webhook.sh  # without the file store's query index
#                                            # (unset: the build's default; builds before the
#                                            # index existed refuse the key)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SECONDS_PER_RUN="${BENCH_SECONDS:-10}"
ROUNDS="${BENCH_ROUNDS:-3}"
CONNECTIONS="${BENCH_CONNECTIONS:-32}"
KEY="benchkey"
SECRET="bench-secret-that-is-at-least-32-characters"
log() { echo "bench-webhook: $*" >&2; }

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
WRK=/usr/bin/wrk
if [ ! -x "$WRK" ]; then
  log "installing Debian's wrk"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null
fi

# shellcheck source=scripts/bench/lib.sh
. "$ROOT/scripts/bench/lib.sh"
bench_binary
bench_workdir
read -r WEBHOOK_PORT TELEMETRY_PORT GRPC_PORT FLOOR_PORT < <(free_ports 4)
FLOOR=""
if [ "${BENCH_FLOOR:-1}" != 0 ]; then
  log "building the floor (benches/webhook_floor.rs)"
  FLOOR=$(bench_executable webhook_floor)
  [ -x "$FLOOR" ] || { log "cannot build the floor bench"; exit 1; }
fi

/usr/bin/python3 "$ROOT/scripts/bench/webhook-requests.py" "$KEY" "$SECRET" 1000 > "$WORK/requests.lua"
cat "$ROOT/scripts/bench/webhook.lua" >> "$WORK/requests.lua"

cat > "$WORK/host.yaml" <<YAML
keys:
  $KEY: $SECRET
openvidu:
  analytics:
    interval: 1s
    node_id: ND_bench
    file: { enabled: true, dir: "$WORK/store"${BENCH_FILE_INDEX:+, index: $BENCH_FILE_INDEX} }
    ingest:
      webhook: { listen: "127.0.0.1:$WEBHOOK_PORT" }
      grpc: { listen: "127.0.0.1:$GRPC_PORT" }
    telemetry: { listen: "127.0.0.1:$TELEMETRY_PORT" }
YAML
"$BIN" run --config "$WORK/host.yaml" --log-level warn 2> "$WORK/host.log" &
HOST_PID=$!
for _ in $(seq 100); do
  /usr/bin/python3 -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)" \
    "http://127.0.0.1:$TELEMETRY_PORT/health" 2>/dev/null && break
  sleep 0.1
done

cpu_ticks() { awk '{print $14 + $15}' "/proc/$HOST_PID/stat"; }
# `wrk` prints "Requests/sec: N" and, when some answers were not 2xx/3xx, "Non-2xx ... : N".
run_wrk() {
  "$WRK" -t1 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" "$@" > "$WORK/wrk.out"
  awk '/Requests\/sec/ {rps=$2} /Non-2xx/ {bad=$NF} END {printf "%s %s\n", rps, (bad==""?0:bad)}' "$WORK/wrk.out"
}

HZ="$(getconf CLK_TCK)"
printf '| round | webhook req/s | /health req/s | ratio | host CPU µs per webhook | non-2xx | floor req/s | webhook / floor |\n|---|---|---|---|---|---|---|---|\n'
for round in $(seq "$ROUNDS"); do
  before="$(cpu_ticks)"
  if [ "${BENCH_PERF:-0}" = 1 ] && [ "$round" = 1 ]; then
    perf record -q ${BENCH_PERF_ARGS:--g} -o "$WORK/perf.data" -p "$HOST_PID" -- sleep "$SECONDS_PER_RUN" 2>/dev/null &
    PERF_PID=$!
  fi
  read -r hook_rps hook_bad < <(run_wrk -s "$WORK/requests.lua" "http://127.0.0.1:$WEBHOOK_PORT/webhook")
  after="$(cpu_ticks)"
  [ -n "${PERF_PID:-}" ] && wait "$PERF_PID" && PERF_PID=""
  read -r health_rps _ < <(run_wrk "http://127.0.0.1:$TELEMETRY_PORT/health")
  floor_rps="-"
  if [ -n "$FLOOR" ]; then
    BENCH_LISTEN="127.0.0.1:$FLOOR_PORT" "$FLOOR" --bench &
    FLOOR_PID=$!
    for _ in $(seq 100); do
      /usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1', $FLOOR_PORT), 0.2)" 2>/dev/null && break
      sleep 0.1
    done
    read -r floor_rps _ < <(run_wrk -s "$WORK/requests.lua" "http://127.0.0.1:$FLOOR_PORT/webhook")
    kill "$FLOOR_PID"; wait "$FLOOR_PID" 2>/dev/null || true
  fi
  awk -v r="$round" -v h="$hook_rps" -v g="$health_rps" -v t=$((after - before)) -v hz="$HZ" \
      -v s="$SECONDS_PER_RUN" -v bad="$hook_bad" -v f="$floor_rps" 'BEGIN {
    printf "| %d | %.0f | %.0f | %.2f | %.1f | %s | %s | %s |\n", r, h, g, h / g, (t / hz) * 1e6 / (h * s), bad,
      (f == "-" ? "-" : sprintf("%.0f", f)), (f == "-" ? "-" : sprintf("%.2f", h / f)) }'
done
if [ -f "$WORK/perf.data" ]; then
  echo
  echo "perf report (round 1, webhook run; self time, top 40):"
  perf report -q -i "$WORK/perf.data" --no-children -g none --sort symbol --percent-limit 0.7 2>/dev/null \
    | grep -v "^$" | cut -c1-150 | head -40
  if [ -n "${BENCH_PERF_OUT:-}" ]; then cp "$WORK/perf.data" "$BENCH_PERF_OUT"; fi
fi

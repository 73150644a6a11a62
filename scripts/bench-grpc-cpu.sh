#!/usr/bin/env bash
# Host CPU per item over the gRPC door, with the load generator as its own process (as a
# user runs it): starts the release binary with the file store, runs
# `analytics-host simulate --doors grpc` against it for BENCH_SECONDS at BENCH_RATE items/s
# (50 rooms × 4 participants × 2 tracks, 500 records per message), and reads the host's
# CPU time from /proc over the load plus 2 s. Prints one table row per round.
#
#   scripts/bench-grpc-cpu.sh                          # this build, query index on
#   BENCH_FILE_INDEX=false scripts/bench-grpc-cpu.sh   # without the query index
#   BENCH_BIN=path/to/analytics-host scripts/bench-grpc-cpu.sh   # another build
#   BENCH_ROUNDS=4 BENCH_RATE=100000 BENCH_SECONDS=10 (the defaults)
#   BENCH_FLOOR=0 scripts/bench-grpc-cpu.sh            # without the floor column
#   BENCH_INTERVAL=10s scripts/bench-grpc-cpu.sh       # the sinks' interval (default 1s)
#
# Each round also runs the floor (`cargo bench --bench grpc_floor`, built here) twice under
# the same `simulate` load: the same tonic server and generated service with messages kept
# as received, which only splits them into records and drops them (receiving alone); then
# the same server building each record's item as the door does and dropping it (receiving +
# building: what is left above it is the queues and the file store).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROUNDS="${BENCH_ROUNDS:-4}"
RATE="${BENCH_RATE:-100000}"
SECONDS_PER_RUN="${BENCH_SECONDS:-10}"
INDEX="${BENCH_FILE_INDEX:-true}"
INTERVAL="${BENCH_INTERVAL:-1s}"
log() { echo "bench-grpc-cpu: $*" >&2; }

# shellcheck source=scripts/bench/lib.sh
. "$ROOT/scripts/bench/lib.sh"
bench_binary
bench_workdir
read -r WEBHOOK_PORT TELEMETRY_PORT GRPC_PORT < <(free_ports 3)
FLOOR=""
if [ "${BENCH_FLOOR:-1}" != 0 ]; then
  log "building the floor (benches/grpc_floor.rs)"
  FLOOR=$(bench_executable grpc_floor)
  [ -x "$FLOOR" ] || { log "cannot build the floor bench"; exit 1; }
fi

# CPU seconds (user + system) of process $1 so far.
cpu_seconds() { awk '{ printf "%.2f", ($14 + $15) / 100 }' "/proc/$1/stat"; }

echo "| round | file.index | items accepted | dropped by the queue | left out of the index | host CPU s | host CPU µs per item | floor µs per item | host / floor | floor + items µs per item |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for round in $(seq 1 "$ROUNDS"); do
  rm -rf "$WORK/store"
  cat > "$WORK/config.yaml" <<YAML
keys:
  benchkey: bench-secret-that-is-at-least-32-characters
openvidu:
  analytics:
    interval: $INTERVAL
    node_id: ND_bench
    file: { enabled: true, dir: "$WORK/store", index: $INDEX }
    ingest:
      webhook: { listen: "127.0.0.1:$WEBHOOK_PORT" }
      grpc: { listen: "127.0.0.1:$GRPC_PORT" }
    telemetry: { listen: "127.0.0.1:$TELEMETRY_PORT" }
YAML
  "$BIN" run --config "$WORK/config.yaml" --log-level error &
  HOST_PID=$!
  for _ in $(seq 1 100); do
    /usr/bin/python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $GRPC_PORT), 0.2)" 2>/dev/null && break
    sleep 0.1
  done
  before=$(cpu_seconds "$HOST_PID")
  "$BIN" simulate --config "$WORK/config.yaml" --doors grpc --rooms 50 --participants 4 \
    --tracks 2 --rate "$RATE" --duration "${SECONDS_PER_RUN}s" --batch 500 \
    --log-level error > "$WORK/simulate.txt"
  sleep 2
  after=$(cpu_seconds "$HOST_PID")
  # Items the file sink's queue dropped (full) and the query index left out (behind).
  /usr/bin/python3 -c "import urllib.request as u; print(u.urlopen('http://127.0.0.1:$TELEMETRY_PORT/metrics').read().decode())" \
    > "$WORK/metrics.txt"
  dropped=$(awk '/^analytics_sink_overflowed_total\{sink="file"/ { print $2 }' "$WORK/metrics.txt")
  skipped=$(awk '/^analytics_sink_extra_total\{.*name="index_skipped"/ { print $2 }' "$WORK/metrics.txt")
  kill "$HOST_PID"; wait "$HOST_PID" 2>/dev/null || true; HOST_PID=""
  # "accepted N items/s" over the run's seconds.
  accepted=$(awk -v s="$SECONDS_PER_RUN" '/accepted/ { for (i = 1; i <= NF; i++) if ($i == "accepted") { printf "%d", $(i + 1) * s } }' "$WORK/simulate.txt")
  floor="-"
  built="-"
  if [ -n "$FLOOR" ]; then
    # Its table's last row: "| 1 | records | CPU s | µs per item |".
    floor=$(BENCH_HOST_BIN="$BIN" BENCH_RATE="$RATE" BENCH_SECONDS="$SECONDS_PER_RUN" BENCH_ROUNDS=1 \
      "$FLOOR" --bench | awk -F'|' 'END { gsub(/ /, "", $5); print $5 }')
    built=$(BENCH_FLOOR_BUILD=1 BENCH_HOST_BIN="$BIN" BENCH_RATE="$RATE" BENCH_SECONDS="$SECONDS_PER_RUN" \
      BENCH_ROUNDS=1 "$FLOOR" --bench | awk -F'|' 'END { gsub(/ /, "", $5); print $5 }')
  fi
  awk -v r="$round" -v x="$INDEX" -v n="$accepted" -v d="${dropped:--}" -v k="${skipped:--}" -v b="$before" -v a="$after" -v f="$floor" -v g="$built" \
    'BEGIN { u = (a - b) * 1e6 / n; printf "| %d | %s | %d | %s | %s | %.2f | %.2f | %s | %s | %s |\n", r, x, n, d, k, a - b, u, f, (f == "-" ? "-" : sprintf("%.1f", u / f)), g }'
done

#!/usr/bin/env bash
# Builds every supported livekit-server version with the analytics export patch (build.sh,
# which also runs the patch's unit test) and runs one short real session against each:
# scripts/livekit-export-e2e.sh's `session` scenario (alice joins and publishes audio and
# video, bob subscribes, alice mutes and unmutes, both leave; the host must store every
# event with its ids, stats with scores and node room states, and nothing twice). Prints a
# Markdown table: version × built × unit test × events/stats/node rooms stored × result.
#
#   livekit/matrix.sh [VERSION...]   # default: every supported version (build.sh --list)
#
# LKA_HOST_BIN: the host binary (else scripts/livekit-export-e2e.sh builds it with cargo).
# Logs per version go to $LKA_MATRIX_DIR (default: a new temporary directory, printed).
# Exit code: 0 every version passed, 1 otherwise.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
OUT="${LKA_MATRIX_DIR:-$(mktemp -d)}"
mkdir -p "$OUT"
log() { echo "livekit/matrix.sh: $*" >&2; }

if [ "$#" -gt 0 ]; then versions=("$@"); else mapfile -t versions < <(bash "$HERE/build.sh" --list); fi
log "versions: ${versions[*]}; logs in $OUT"

rows=()
all_ok=1
for v in "${versions[@]}"; do
  built="no" unit="–" events="–" stats="–" rooms="–" result="FAILED" secs="–"
  t0=$(date +%s)
  bash "$HERE/build.sh" "$v" >"$OUT/$v.build.out" 2>"$OUT/$v.build.log"
  rc=$?
  build_s=$(( $(date +%s) - t0 ))
  if [ "$rc" -eq 0 ]; then
    built="yes" unit="passed"
  elif grep -q "go test of the analytics export" "$OUT/$v.build.log"; then
    built="yes" unit="FAILED"
  elif [ "$rc" -eq 2 ]; then
    built="unsupported"
  fi
  if [ "$rc" -eq 0 ]; then
    t0=$(date +%s)
    LKA_LIVEKIT_VERSION="$v" LKA_EXPORT_SCENARIO=session \
      bash "$ROOT/scripts/livekit-export-e2e.sh" >"$OUT/$v.e2e.out" 2>"$OUT/$v.e2e.log"
    erc=$?
    secs=$(( $(date +%s) - t0 ))
    # The script's JSON summary: what the file store held after the session.
    summary="$(grep -o '{"scenario": "session".*' "$OUT/$v.e2e.log" | tail -n1)"
    if [ -n "$summary" ]; then
      read -r events stats rooms < <(python3 -c '
import json, sys
s = json.loads(sys.argv[1])["file_store"]["before"]
print(s["events"]["distinct"], s["stats"]["distinct"], s["node_rooms"]["distinct"])' "$summary")
    fi
    case "$erc" in 0) result="passed" ;; 77) result="skipped (tools)" ;; *) result="FAILED (exit $erc)" ;; esac
  fi
  [ "$result" = passed ] || all_ok=0
  rows+=("| $v | $built (${build_s} s) | $unit | $events | $stats | $rooms | $result (${secs} s) |")
  log "$v: ${rows[-1]}"
done

echo "| version | built | unit test | events stored | stats stored | node-room states stored | session |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
[ "$all_ok" = 1 ]

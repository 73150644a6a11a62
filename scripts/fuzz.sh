#!/usr/bin/env bash
# Builds every fuzz target of fuzz/ (one cargo invocation) and runs each for SECONDS,
# then prints executions per target and crashes; exits non-zero when any target crashed
# (a panic: a property failed) or did not run.
#   scripts/fuzz.sh SECONDS [TARGET...]
# New inputs go to $CACHE/fuzz-corpus/<target> (fuzz/corpus/<target> is the committed
# seed corpus, read only); a crashing input is saved to fuzz/artifacts/<target>/ and
# printed: make it a regression test (host/src/fuzzing/tests.rs).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${LKA_CACHE_DIR:-$HOME/.cache/livekit-analytics-host}"
SECONDS_EACH="${1:?usage: scripts/fuzz.sh SECONDS [TARGET...]}"
shift
ALL=(event_walker stat_walker node_rooms_walker webhook config api)
if [ $# -gt 0 ]; then TARGETS=("$@"); else TARGETS=("${ALL[@]}"); fi

CARGO_FUZZ="$("$ROOT/scripts/install-fuzz.sh" | tail -n 1)"
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
export RUSTUP_TOOLCHAIN=nightly
# Its own target directory: instrumented builds share nothing with the test builds.
TARGET_DIR="${LKA_FUZZ_TARGET_DIR:-$CACHE/fuzz-target}"
export CARGO_INCREMENTAL=0
# Release with debug assertions and overflow checks; no sanitizer (the host is safe Rust:
# a panic is what the targets look for, and AddressSanitizer would double the build);
# 16 codegen units (cargo-fuzz's default of 1 makes the build of wasmtime & co. crawl).
FLAGS=(-O -a -s none --codegen-units 16 --target-dir "$TARGET_DIR")

cd "$ROOT/fuzz"
T0=$(date +%s)
"$CARGO_FUZZ" fuzz build "${FLAGS[@]}"
echo "fuzz.sh: build done in $(( $(date +%s) - T0 )) s"

BIN="$TARGET_DIR/x86_64-unknown-linux-gnu/release"
failed=0
SUMMARY=()
for target in "${TARGETS[@]}"; do
  work="$CACHE/fuzz-corpus/$target"
  artifacts="$ROOT/fuzz/artifacts/$target/"
  mkdir -p "$work" "$artifacts" "$ROOT/fuzz/corpus/$target"
  log="$(mktemp)"
  rc=0
  "$BIN/$target" "$work" "$ROOT/fuzz/corpus/$target" \
    -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$artifacts" >"$log" 2>&1 || rc=$?
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
  speed="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)"
  cov="$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)"
  crashes=0
  if [ "$rc" != 0 ]; then
    crashes=1
    failed=1
    echo "fuzz.sh: $target FAILED (exit $rc); its log ends:"
    grep -v '^#' "$log" | tail -n 40
  fi
  SUMMARY+=("$(printf '%-18s %12s execs %8s/s  cov %6s  crashes %s' \
    "$target" "${execs:-?}" "${speed:-?}" "${cov:-?}" "$crashes")")
  rm -f "$log"
done
echo "fuzz.sh: ${SECONDS_EACH} s per target, total $(( $(date +%s) - T0 )) s"
printf '%s\n' "${SUMMARY[@]}"
if [ "$failed" != 0 ]; then
  echo "fuzz.sh: FAILED: crashing inputs are in fuzz/artifacts/"
  exit 1
fi
echo "fuzz.sh: 0 crashes"

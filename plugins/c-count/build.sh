#!/usr/bin/env bash
# Builds plugins/c-count into the component given as $1:
#   wit-bindgen c  ->  clang (wasm32-wasi, reactor)  ->  wasm-tools component new
# The core module imports only livekit:analytics/log, so no WASI adapter is needed.
# If you add code that imports WASI preview 1 (printf, fopen, getenv ...), the
# script adapts it with the reactor adapter of crate
# wasi-preview1-component-adapter-provider (then the component imports wasi:* too).
set -euo pipefail
OUT="$1"
HERE="$(cd "$(dirname "$0")" && pwd)"
CACHE="${LKA_CACHE_DIR:-$HOME/.cache/livekit-analytics-host}"
WIT_BINDGEN="${WIT_BINDGEN:-$CACHE/tools/bin/wit-bindgen}"
WASM_TOOLS="${WASM_TOOLS:-$CACHE/venv/bin/wasm-tools}"
CC="${CC_WASM:-/usr/bin/clang-19}"
ADAPTER_VERSION=48.0.8   # = the host's wasmtime version

GEN="$CACHE/gen/c-count"
rm -rf "$GEN" && mkdir -p "$GEN"
"$WIT_BINDGEN" c "$HERE/../../wit" --world sink --out-dir "$GEN" >"$GEN/wit-bindgen.log" 2>&1 || { cat "$GEN/wit-bindgen.log" >&2; exit 1; }
"$CC" --target=wasm32-wasi -mexec-model=reactor -O2 -s -Wall -Wextra -Werror \
  -I"$GEN" -o "$GEN/core.wasm" "$HERE/count.c" "$GEN/sink.c" "$GEN/sink_component_type.o"

if "$WASM_TOOLS" print "$GEN/core.wasm" | grep -q '(import "wasi_snapshot_preview1"'; then
  # Fetch the adapter crate through cargo and take its reactor artefact.
  mkdir -p "$CACHE/adapter/src" && touch "$CACHE/adapter/src/lib.rs"
  cat > "$CACHE/adapter/Cargo.toml" <<TOML
[package]
name = "adapter-fetch"
version = "0.0.0"
edition = "2021"
publish = false
[dependencies]
wasi-preview1-component-adapter-provider = "=$ADAPTER_VERSION"
[workspace]
TOML
  manifest=$(cd "$CACHE/adapter" && cargo metadata --format-version 1 2>/dev/null | "$CACHE/venv/bin/python" -c \
    'import json,sys; print([p["manifest_path"] for p in json.load(sys.stdin)["packages"] if p["name"]=="wasi-preview1-component-adapter-provider"][0])')
  "$WASM_TOOLS" component new "$GEN/core.wasm" \
    --adapt "wasi_snapshot_preview1=$(dirname "$manifest")/artefacts/wasi_snapshot_preview1.reactor.wasm" -o "$OUT"
else
  "$WASM_TOOLS" component new "$GEN/core.wasm" -o "$OUT"
fi

#!/usr/bin/env bash
# Builds plugins/rust-jsonl into the component given as $1 (wasm32-wasip2).
# Ordinary route (any machine with rustup):   rustup target add wasm32-wasip2
#                                              cargo build --release --target wasm32-wasip2
# Debian route (this repository's CI, no rustup wasm targets): Debian's rustc-web +
# rust-web-src, std rebuilt with -Zbuild-std, linked by the wasm-component-ld that
# scripts/install-plugin-toolchains.sh installs into the cache (Debian ships none). Chosen automatically; force one with
# LKA_RUST_ROUTE=rustup|debian.
set -euo pipefail
OUT="$1"
HERE="$(cd "$(dirname "$0")" && pwd)"
CACHE="${LKA_CACHE_DIR:-$HOME/.cache/livekit-analytics-host}"
export CARGO_TARGET_DIR="$CACHE/target/rust-jsonl"
cd "$HERE"

route="${LKA_RUST_ROUTE:-}"
if [ -z "$route" ]; then
  if command -v rustup >/dev/null 2>&1 && rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
    route=rustup
  else
    route=debian
  fi
fi
if [ "$route" = rustup ]; then
  nice cargo build --quiet --release --locked --target wasm32-wasip2
else
  LINKER="$CACHE/tools/bin/wasm-component-ld"
  [ -x "$LINKER" ] || { echo "rust-jsonl: $LINKER missing (run scripts/install-plugin-toolchains.sh)" >&2; exit 1; }
  RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 \
  RUSTFLAGS="-L /usr/lib/wasm32-wasi -C link-self-contained=no -C linker=$LINKER -C link-arg=--wasm-ld-path=/usr/bin/wasm-ld-19" \
    nice cargo build --quiet --release --locked --target wasm32-wasip2 -Zbuild-std=std,panic_abort
fi
cp "$CARGO_TARGET_DIR/wasm32-wasip2/release/rust_jsonl.wasm" "$OUT"

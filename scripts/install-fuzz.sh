#!/usr/bin/env bash
# Installs what scripts/fuzz.sh needs, pinned, into the cache directory:
#   cargo: cargo-fuzz (the libFuzzer driver)   -> $CACHE/cargo-fuzz-$CARGO_FUZZ_VERSION
# It needs a nightly Rust toolchain (`cargo +nightly`, for -Zsanitizer): the machines this
# project runs on have one from rustup; the script says so plainly when it is missing.
# Prints the path of the cargo-fuzz binary on its last line.
#   CACHE=${LKA_CACHE_DIR:-$HOME/.cache/livekit-analytics-host}
set -euo pipefail

CARGO_FUZZ_VERSION=0.13.2

CACHE="${LKA_CACHE_DIR:-$HOME/.cache/livekit-analytics-host}"
mkdir -p "$CACHE"
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
log() { echo "install-fuzz: $*" >&2; }

if ! cargo +nightly --version >/dev/null 2>&1; then
  log "no nightly toolchain (cargo +nightly): install one with rustup (rustup toolchain install nightly)"
  exit 1
fi

ROOT_DIR="$CACHE/cargo-fuzz-$CARGO_FUZZ_VERSION"
BIN="$ROOT_DIR/bin/cargo-fuzz"
if [ ! -x "$BIN" ]; then
  log "cargo install cargo-fuzz@$CARGO_FUZZ_VERSION (a minute or two, once)"
  # Its own target directory: the caller's may be a sanitizer build's.
  CARGO_TARGET_DIR="$CACHE/cargo-fuzz-build" nice cargo install --quiet --locked \
    "cargo-fuzz@$CARGO_FUZZ_VERSION" --root "$ROOT_DIR"
  rm -rf "$CACHE/cargo-fuzz-build"
fi
"$BIN" --version >&2
echo "$BIN"

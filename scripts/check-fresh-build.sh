#!/usr/bin/env bash
# Builds the host (`cargo check` of the analytics-host binary) the way a new user's first
# command does: with a cargo home holding only what that build downloads (no
# dev-dependencies). A build script that needs anything more (a `cargo metadata` call
# resolves dev-dependencies too) fails here. The cargo home and target dir are kept in the
# cache directory (never used for anything else), so after the first run this takes
# seconds. Run by scripts/test.sh before the tests.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${LKA_CACHE_DIR:-$HOME/.cache/livekit-analytics-host}"
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
home="$CACHE/cargo-home-build-only"
mkdir -p "$home"
cd "$ROOT"
if ! CARGO_HOME="$home" CARGO_TARGET_DIR="$CACHE/target-build-only" \
  cargo check -p livekit-analytics-host --bin analytics-host --locked --quiet; then
  echo "check-fresh-build: the host does not build with only its own dependencies downloaded" \
    "(as on a fresh machine); see the error above" >&2
  exit 1
fi
# Proof that this home really lacks what a plain build does not need.
if [ -n "$(ls "$home"/registry/src/*/ 2>/dev/null | grep -E '^(rcgen|proptest)-' || true)" ]; then
  echo "check-fresh-build: $home holds dev-dependencies; delete it and run again" >&2
  exit 1
fi
echo "check-fresh-build: the host builds from a cargo home holding only its build's dependencies"

#!/usr/bin/env bash
# The project's test command: installs the test servers (if missing), builds the
# WebAssembly plugins (if the project has a script for that), then runs every test
# of the workspace. Extra arguments go to `cargo test`, e.g.
#   scripts/test.sh -p livekit-analytics-host --test servers
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

CACHE="${LKA_CACHE_DIR:-$HOME/.cache/livekit-analytics-host}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE/target}"

"$ROOT/scripts/install-test-deps.sh"
# Tests also read this file themselves; sourcing it makes the paths visible to
# anything else the tests start.
# shellcheck disable=SC1091
. "$CACHE/test-env.sh"

if [ -f "$ROOT/scripts/build-plugins.sh" ]; then
  bash "$ROOT/scripts/build-plugins.sh"
  # The plugin end-to-end tests fail (instead of skipping) when a component is missing.
  export LKA_REQUIRE_PLUGINS=1
fi

if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi

rc=0
cargo test --workspace --locked "$@" || rc=$?
if [ "$rc" = 0 ]; then
  echo "scripts/test.sh: all tests passed"
else
  echo "scripts/test.sh: FAILED (cargo test exit code $rc)"
fi
exit "$rc"

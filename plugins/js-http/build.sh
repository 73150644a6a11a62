#!/usr/bin/env bash
# Builds plugins/js-http into the component given as $1, with jco componentize
# (componentize-js / StarlingMonkey). Only the `http` feature of the JS engine is
# kept (for fetch): the component imports wasi:http and wasi:io, and no stdio,
# clocks, random or filesystem.
set -euo pipefail
OUT="$1"
HERE="$(cd "$(dirname "$0")" && pwd)"
CACHE="${LKA_CACHE_DIR:-$HOME/.cache/livekit-analytics-host}"
JCO="${JCO:-$CACHE/jco-1.33.0/node_modules/.bin/jco}"
nice "$JCO" componentize "$HERE/plugin.js" --wit "$HERE/../../wit" --world-name sink \
  --disable stdio random clocks fetch-event -o "$OUT" >/dev/null

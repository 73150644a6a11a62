#!/usr/bin/env bash
# Builds plugins/python-quality into the component given as $1 with componentize-py.
# --stub-wasi replaces every WASI import of the Python runtime with a trapping stub:
# this plugin needs no capability, so its component imports only livekit:analytics.
set -euo pipefail
OUT="$1"
HERE="$(cd "$(dirname "$0")" && pwd)"
CACHE="${LKA_CACHE_DIR:-$HOME/.cache/livekit-analytics-host}"
CPY="${COMPONENTIZE_PY:-$CACHE/venv/bin/componentize-py}"
cd "$HERE"
nice "$CPY" -d ../../wit -w sink componentize --stub-wasi app -o "$OUT" >/dev/null

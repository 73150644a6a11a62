#!/usr/bin/env bash
# Builds the egress/ingress test worker (this directory; see main.go and ../README.md) and
# prints the binary's absolute path as the last line of stdout; everything else goes to
# stderr.
#
#   livekit/test-worker/build.sh
#
# Exit codes: 0 built or cached; 1 the build failed; 77 no Go, or the modules could not
# be downloaded.
#
# The modules are the versions go.mod pins (psrpc, protocol and go-redis as livekit-server
# v1.13.5's go.mod has them), checked against go.sum. The binary is static
# (CGO_ENABLED=0), in ${LKA_CACHE_DIR:-$HOME/.cache/livekit-analytics-host}/bin/
# livekit-test-worker-<fp>, <fp> = the first 12 hex digits of sha256(go.mod + go.sum +
# *.go + this script): rebuilt only when one of them changes. Concurrent runs wait for
# each other (flock).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${LKA_CACHE_DIR:-$HOME/.cache/livekit-analytics-host}"
log() { echo "livekit/test-worker/build.sh: $*" >&2; }

GO=/usr/local/go/bin/go
[ -x "$GO" ] || GO="$(command -v go || true)"
[ -n "$GO" ] || { log "go is not installed"; exit 77; }

FP="$(cd "$HERE" && cat go.mod go.sum $(ls ./*.go | sort) build.sh | sha256sum | cut -c1-12)"
BIN="$CACHE/bin/livekit-test-worker-$FP"
mkdir -p "$CACHE/bin"

exec 9>"$CACHE/bin/.livekit-test-worker.lock"
flock 9
if [ ! -x "$BIN" ]; then
  log "building the test worker ($FP; a few minutes the first time)"
  export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=readonly"
  (cd "$HERE" && "$GO" mod download) >&2 \
    || { log "go mod download failed (the modules go.mod pins could not be had)"; exit 77; }
  (cd "$HERE" && CGO_ENABLED=0 "$GO" build -trimpath -o "$BIN.tmp" .) >&2 \
    || { log "go build failed"; rm -f "$BIN.tmp"; exit 1; }
  mv "$BIN.tmp" "$BIN"
  log "built $BIN"
fi
flock -u 9
echo "$BIN"

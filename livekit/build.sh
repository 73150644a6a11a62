#!/usr/bin/env bash
# Builds livekit-server v1.13.5 with the project's patch (livekit-server-v1.13.5.patch:
# the `analytics_export` section, see README.md here) and prints the binary's absolute
# path as the last line of stdout; everything else goes to stderr.
#
#   livekit/build.sh     # exit 0: built or cached; 1: the patch or the build failed;
#                        # 77: no Go, or the source could not be downloaded
#
# The binary is static (CGO_ENABLED=0, as upstream's Dockerfile builds it). The source
# comes from the Go module proxy (`go mod download`, checked against the
# checksum database as every module is). The binary lands in
# ${LKA_CACHE_DIR:-$HOME/.cache/livekit-analytics-host}/bin/livekit-server-v1.13.5-export-<fp>,
# <fp> = the first 12 hex digits of sha256(patch + this script): rebuilt only when either
# changes. Concurrent runs wait for each other (flock).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${LKA_CACHE_DIR:-$HOME/.cache/livekit-analytics-host}"
VERSION="v1.13.5"
PATCH="$HERE/livekit-server-$VERSION.patch"

log() { echo "livekit/build.sh: $*" >&2; }

GO=/usr/local/go/bin/go
[ -x "$GO" ] || GO="$(command -v go || true)"
[ -n "$GO" ] || { log "go is not installed"; exit 77; }

FP="$(cat "$PATCH" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-12)"
BIN="$CACHE/bin/livekit-server-$VERSION-export-$FP"
mkdir -p "$CACHE/bin"

exec 9>"$CACHE/bin/.livekit-build.lock"
flock 9
if [ ! -x "$BIN" ]; then
  log "building livekit-server $VERSION with the analytics export patch ($FP; a few minutes the first time)"
  json="$("$GO" mod download -json "github.com/livekit/livekit-server@$VERSION")" \
    || { log "go mod download github.com/livekit/livekit-server@$VERSION failed"; exit 77; }
  dir="$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')"
  [ -d "$dir" ] || { log "no source directory in: $json"; exit 77; }

  src="$CACHE/src/livekit-server-$VERSION-export-$FP"
  rm -rf "$src"
  mkdir -p "$(dirname "$src")"
  cp -r "$dir" "$src"
  chmod -R u+w "$src"
  # patch(1) where installed, else git's own (CI runs in a git clone).
  if command -v patch >/dev/null 2>&1; then apply=(patch -p1 --forward --batch --quiet)
  elif command -v git >/dev/null 2>&1; then apply=(env GIT_CEILING_DIRECTORIES="$(dirname "$src")" git apply -p1)
  else log "neither patch nor git is installed"; exit 77; fi
  (cd "$src" && "${apply[@]}" < "$PATCH") >&2 || { log "the patch does not apply to $VERSION"; exit 1; }
  export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=mod"
  (cd "$src" && CGO_ENABLED=0 "$GO" build -trimpath -o "$BIN.tmp" ./cmd/server) >&2 \
    || { log "go build failed"; rm -f "$BIN.tmp"; exit 1; }
  # The patch's own test (the export's queue, retries and shutdown flush) must pass too.
  (cd "$src" && "$GO" test -count=1 -run TestAnalyticsExport ./pkg/telemetry/) >&2 \
    || { log "go test of the analytics export failed"; rm -f "$BIN.tmp"; exit 1; }
  mv "$BIN.tmp" "$BIN"
  rm -rf "$src"
  log "built $BIN"
fi
flock -u 9
echo "$BIN"

#!/usr/bin/env bash
# Builds livekit-server VERSION with the project's analytics export patch (the
# `analytics_export` section, see README.md here) and prints the binary's absolute path as
# the last line of stdout; everything else goes to stderr.
#
#   livekit/build.sh [VERSION]   # default: $LKA_LIVEKIT_VERSION, else the newest supported
#   livekit/build.sh --list      # the supported versions, newest first, one a line
#
# Exit codes: 0 built or cached; 1 the patch, the build or the unit test failed; 2 the
# version is not supported (the supported ones are listed); 77 no Go, or the source could
# not be downloaded.
#
# The patch is picked by version from patches/: `vA.patch` serves release vA,
# `vA-vB.patch` every release from vA to vB. It is applied strictly (patch --fuzz=0, or
# git apply): a hunk that does not apply is an error naming the file. patches/unbuilt/
# holds ports to releases whose dependencies the Go module proxy does not serve (never
# used here). The binary is static (CGO_ENABLED=0, as upstream's Dockerfile builds it),
# from source downloaded by `go mod download` (checked against the checksum database), in
# ${LKA_CACHE_DIR:-$HOME/.cache/livekit-analytics-host}/bin/livekit-server-VERSION-export-<fp>,
# <fp> = the first 12 hex digits of sha256(patch + this script): rebuilt only when either
# changes. Concurrent runs wait for each other (flock).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${LKA_CACHE_DIR:-$HOME/.cache/livekit-analytics-host}"
# The releases from v1.8.0 on that the Go module proxy serves (`go list -m -versions`
# lists only part of them; each of these downloads).
SERVED="v1.8.0 v1.8.4 v1.9.11 v1.9.12 v1.11.0 v1.13.1 v1.13.3 v1.13.4 v1.13.5 v1.13.6
v1.13.7 v1.13.8 v1.13.9 v1.13.10 v1.13.11"

log() { echo "livekit/build.sh: $*" >&2; }

# vle A B: true when version A <= version B.
vle() { [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n1)" = "$1" ]; }

# patch_for V: the patches/ file whose range holds V (empty when none).
patch_for() {
  local f name lo hi
  for f in "$HERE"/patches/*.patch; do
    [ -f "$f" ] || continue
    name="$(basename "$f" .patch)"
    lo="${name%%-*}"
    hi="${name#*-}"
    if vle "$lo" "$1" && vle "$1" "$hi"; then echo "$f"; return; fi
  done
}

supported() {
  local v
  # (`if`, not `&&`: the loop's status must not be that of the last, unsupported, version)
  for v in $SERVED; do if [ -n "$(patch_for "$v")" ]; then echo "$v"; fi; done | sort -rV
}

if [ "${1:-}" = "--list" ]; then supported; exit 0; fi
VERSION="${1:-${LKA_LIVEKIT_VERSION:-$(supported | head -n1)}}"
PATCH=""
case " $(echo $SERVED) " in *" $VERSION "*) PATCH="$(patch_for "$VERSION")" ;; esac
if [ -z "$PATCH" ]; then
  log "livekit-server $VERSION is not supported; supported: $(supported | tr '\n' ' ')"
  exit 2
fi

GO=/usr/local/go/bin/go
[ -x "$GO" ] || GO="$(command -v go || true)"
[ -n "$GO" ] || { log "go is not installed"; exit 77; }

FP="$(cat "$PATCH" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-12)"
BIN="$CACHE/bin/livekit-server-$VERSION-export-$FP"
mkdir -p "$CACHE/bin"

exec 9>"$CACHE/bin/.livekit-build.lock"
flock 9
if [ ! -x "$BIN" ]; then
  log "building livekit-server $VERSION with patches/$(basename "$PATCH") ($FP; a few minutes the first time)"
  json="$("$GO" mod download -json "github.com/livekit/livekit-server@$VERSION")" \
    || { log "go mod download github.com/livekit/livekit-server@$VERSION failed"; exit 77; }
  dir="$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')"
  [ -d "$dir" ] || { log "no source directory in: $json"; exit 77; }

  src="$CACHE/src/livekit-server-$VERSION-export-$FP"
  rm -rf "$src"
  mkdir -p "$(dirname "$src")"
  cp -r "$dir" "$src"
  chmod -R u+w "$src"
  # patch(1) where installed, else git's own (CI runs in a git clone); both strict.
  if command -v patch >/dev/null 2>&1; then apply=(patch -p1 --forward --batch --fuzz=0 --no-backup-if-mismatch -r -)
  elif command -v git >/dev/null 2>&1; then apply=(env GIT_CEILING_DIRECTORIES="$(dirname "$src")" git apply -p1 -v)
  else log "neither patch nor git is installed"; exit 77; fi
  if ! out="$(cd "$src" && "${apply[@]}" < "$PATCH" 2>&1)"; then
    printf '%s\n' "$out" >&2
    # patch: "checking file F" then "Hunk #n FAILED at L."; git apply: "error: patch failed: F:L".
    failed="$(printf '%s\n' "$out" | awk '/^(checking|patching) file /{f=$3} /FAILED at/{sub(/\.$/, "", $NF); print f":"$NF} /^error: patch failed: /{print $4}' | sort -u | tr '\n' ' ')"
    log "patches/$(basename "$PATCH") does not apply to $VERSION (files: $failed)"
    rm -rf "$src"
    exit 1
  fi
  export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=mod"
  (cd "$src" && CGO_ENABLED=0 "$GO" build -trimpath -o "$BIN.tmp" ./cmd/server) >&2 \
    || { log "go build of $VERSION failed"; rm -f "$BIN.tmp"; exit 1; }
  # The patch's own test (the export's queue, retries and shutdown flush) must pass too.
  (cd "$src" && "$GO" test -count=1 -run TestAnalyticsExport ./pkg/telemetry/) >&2 \
    || { log "go test of the analytics export on $VERSION failed"; rm -f "$BIN.tmp"; exit 1; }
  mv "$BIN.tmp" "$BIN"
  rm -rf "$src"
  log "built $BIN"
fi
flock -u 9
echo "$BIN"

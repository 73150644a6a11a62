#!/usr/bin/env bash
# Copies LiveKit's .proto files that host/build.rs compiles from the livekit-protocol crate
# of Cargo.lock into host/proto/livekit/ (see host/proto/livekit/UPSTREAM.md). Run after
# upgrading livekit-protocol; then update the versions in UPSTREAM.md.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
manifest=$(cargo metadata --format-version 1 --locked \
  | python3 -c 'import json,sys; print(next(p["manifest_path"] for p in json.load(sys.stdin)["packages"] if p["name"]=="livekit-protocol"))')
src="$(dirname "$manifest")/protocol"
dest="$ROOT/host/proto/livekit"
( cd "$dest" && find . -name '*.proto' ) | while read -r f; do
  cp "$src/protobufs/$f" "$dest/$f"
done
cp "$src/LICENSE" "$src/NOTICE" "$dest/"
echo "copied from $src (version $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$src/package.json"))"

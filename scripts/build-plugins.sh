#!/usr/bin/env bash
# Builds the example sink plugins from source into plugins/dist/<name>.wasm:
#   rust-jsonl, js-http, python-quality, c-count
# Installs the toolchains first (scripts/install-plugin-toolchains.sh, cached).
# A plugin whose sources (its folder, wit/, this script) did not change since its
# last build is not rebuilt. Each component is checked: its world must export
# initialize-database and send-batch; its imports are printed.
#
#   scripts/build-plugins.sh                # all
#   scripts/build-plugins.sh c-count js-http
#   LKA_FORCE=1 scripts/build-plugins.sh    # rebuild even if up to date
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${LKA_CACHE_DIR:-$HOME/.cache/livekit-analytics-host}"
export LKA_CACHE_DIR="$CACHE"
DIST="$ROOT/plugins/dist"
ALL=(rust-jsonl js-http python-quality c-count)
WANT=("$@"); [ "${#WANT[@]}" -gt 0 ] || WANT=("${ALL[@]}")

"$ROOT/scripts/install-plugin-toolchains.sh"
WASM_TOOLS="$CACHE/venv/bin/wasm-tools"
mkdir -p "$DIST/.stamps"

# A fingerprint of everything a plugin is built from.
fingerprint() {
  (cd "$ROOT" && find "plugins/$1" wit scripts/build-plugins.sh scripts/install-plugin-toolchains.sh \
      -type f ! -name '*.wasm' ! -name '*.md' ! -path '*/target/*' ! -path '*/__pycache__/*' ! -path '*/node_modules/*' \
      -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
}

check() { # component name
  local wit world imports
  wit="$("$WASM_TOOLS" component wit "$1")"
  world="$(printf '%s\n' "$wit" | sed -n '/^world /,/^}/p')"
  for f in initialize-database send-batch; do
    if ! printf '%s\n' "$world" | grep -q "^  export $f: func"; then
      echo "build-plugins: $2: the component does not export $f" >&2
      printf '%s\n' "$world" >&2
      return 1
    fi
  done
  imports="$(printf '%s\n' "$world" | sed -n 's/^  import \(.*\);$/\1/p' | tr '\n' ' ')"
  echo "    imports: $imports"
}

for name in "${WANT[@]}"; do
  [ -x "$ROOT/plugins/$name/build.sh" ] || { echo "build-plugins: no plugin $name" >&2; exit 1; }
  out="$DIST/$name.wasm"
  stamp="$DIST/.stamps/$name"
  fp="$(fingerprint "$name")"
  if [ -z "${LKA_FORCE:-}" ] && [ -f "$out" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$fp" ]; then
    printf '%-16s %9s bytes  up to date\n' "$name" "$(stat -c %s "$out")"
  else
    start=$(date +%s%N)
    rm -f "$stamp"
    "$ROOT/plugins/$name/build.sh" "$out.tmp"
    mv -f "$out.tmp" "$out"
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    printf '%-16s %9s bytes  built in %d.%01d s\n' "$name" "$(stat -c %s "$out")" $((ms / 1000)) $((ms % 1000 / 100))
    echo "$fp" > "$stamp"
  fi
  check "$out" "$name"
done

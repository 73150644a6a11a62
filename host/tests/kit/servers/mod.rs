//! Real servers for integration tests: SecantusDB (a MongoDB wire-protocol server on
//! WiredTiger, [`mongo::MongoServer`]), FerretDB (a second one, on SQLite,
//! [`ferretdb::FerretServer`], or on PostgreSQL, [`ferretdb::FerretPostgresServer`] over
//! [`postgres::PostgresServer`]; all as the matrix of [`matrix::Wire`]) and Redis, plain
//! or with the RedisJSON and RediSearch modules ([`redis::RedisServer`]); Redis topologies
//! made of plain servers: a primary, a replica and sentinels, or a cluster
//! ([`redis_ha`]). All are a [`process::ServerProcess`] underneath.
//!
//! The binaries are installed by `scripts/install-test-deps.sh`, which writes
//! `test-env.sh` into its cache directory (`$LKA_CACHE_DIR`, by default
//! `$HOME/.cache/livekit-analytics-host`). The paths are taken from the environment
//! variables `LKA_SECANTUSD`, `LKA_FERRETDB`, `LKA_PG_BIN_DIR`, `LKA_REDIS_SERVER`,
//! `LKA_REDIS_CLI`, `LKA_REDIS_STACK_SERVER`, `LKA_REDISJSON_SO` and `LKA_REDISEARCH_SO`
//! when set, and otherwise from the
//! `export K=V` lines of that file, so a plain `cargo test` works after the install.
//!
//! Every server listens on a free loopback port, keeps its files (and its log,
//! `server.log`) in a fresh temporary directory, and is killed, with the directory
//! removed, when its handle is dropped. Everything here is blocking; async tests may
//! call it directly (start-up takes well under a second to a few seconds).

pub mod ferretdb;
pub mod matrix;
pub mod mongo;
pub mod postgres;
pub mod process;
pub mod redis;
pub mod redis_ha;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The cache directory used by `scripts/install-test-deps.sh`.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("LKA_CACHE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .expect("neither LKA_CACHE_DIR nor HOME is set");
    Path::new(&home)
        .join(".cache")
        .join("livekit-analytics-host")
}

fn env_file() -> PathBuf {
    cache_dir().join("test-env.sh")
}

/// `export K=V`, `export K='V'`, `K="V"` lines of the env file.
fn env_file_vars() -> &'static HashMap<String, String> {
    static VARS: OnceLock<HashMap<String, String>> = OnceLock::new();
    VARS.get_or_init(|| {
        let mut vars = HashMap::new();
        let Ok(text) = std::fs::read_to_string(env_file()) else {
            return vars;
        };
        for line in text.lines() {
            let line = line.trim();
            let line = line.strip_prefix("export ").unwrap_or(line).trim();
            if line.starts_with('#') {
                continue;
            }
            let Some((k, v)) = line.split_once('=') else {
                continue;
            };
            let v = v.trim();
            let v = v
                .strip_prefix('\'')
                .and_then(|v| v.strip_suffix('\''))
                .or_else(|| v.strip_prefix('"').and_then(|v| v.strip_suffix('"')))
                .unwrap_or(v);
            vars.insert(k.trim().to_string(), v.to_string());
        }
        vars
    })
}

/// The path named by `var` (from the environment, else from the env file), which
/// must exist. Panics with instructions when it is missing.
pub fn installed_path(var: &str) -> PathBuf {
    let value = std::env::var(var)
        .ok()
        .filter(|v| !v.is_empty())
        .or_else(|| env_file_vars().get(var).cloned());
    let Some(value) = value else {
        panic!(
            "{var} is not set and {} does not define it: run `scripts/install-test-deps.sh` \
             (it writes that file; `source` it, or just run `cargo test` again), or use \
             `scripts/test.sh`, which does both",
            env_file().display()
        );
    };
    let path = PathBuf::from(value);
    if !path.exists() {
        panic!(
            "{var}={} does not exist: run `scripts/install-test-deps.sh` again",
            path.display()
        );
    }
    path
}

//! FerretDB: a second, independent MongoDB wire-protocol server (Go), built by
//! `scripts/build-ferretdb.sh`, here with either of its backends: SQLite
//! ([`FerretServer::start`]) or PostgreSQL ([`FerretPostgresServer::start`], a PostgreSQL
//! cluster of its own underneath).

use super::installed_path;
use super::mongo::mongo_ping;
use super::postgres::PostgresServer;
use super::process::{Launch, ServerProcess};
use std::path::Path;

/// A FerretDB server, its state and log (and, with SQLite, its database files) in its
/// temporary directory. Unlike SecantusDB it announces no replica set, refuses TTL indexes
/// (code 238), implements only `$sum` and `$count` in `$group`, and has no transactions.
pub struct FerretServer {
    server: ServerProcess,
}

/// Where a FerretDB server stores its data.
enum Backend {
    /// `--handler=sqlite`, a directory of SQLite files (`data/`) in its temporary directory.
    Sqlite,
    /// `--handler=postgresql` with this `--postgresql-url`.
    Postgres(String),
}

impl FerretServer {
    /// Starts a server with its SQLite backend on a free loopback port with a fresh SQLite
    /// directory and waits until it answers a `ping` command.
    pub fn start() -> FerretServer {
        Self::start_with(Backend::Sqlite)
    }

    fn start_with(backend: Backend) -> FerretServer {
        let dir = tempfile::Builder::new()
            .prefix("lka-ferretdb-")
            .tempdir()
            .expect("create a temporary directory");
        let root = dir.path().to_path_buf();
        let handler = match &backend {
            Backend::Sqlite => {
                std::fs::create_dir_all(root.join("data")).expect("create the SQLite directory");
                vec![
                    "--handler=sqlite".to_string(),
                    // A directory URI: one SQLite file per database in it.
                    format!("--sqlite-url=file:{}/", root.join("data").display()),
                ]
            }
            Backend::Postgres(url) => {
                vec![
                    "--handler=postgresql".to_string(),
                    format!("--postgresql-url={url}"),
                ]
            }
        };
        let before_retry: fn(&Path) = match backend {
            Backend::Sqlite => |dir| {
                let _ = std::fs::remove_dir_all(dir.join("data"));
                let _ = std::fs::create_dir_all(dir.join("data"));
            },
            // It never answered, so it stored nothing in PostgreSQL.
            Backend::Postgres(_) => |_| {},
        };
        let launch = Launch {
            name: "ferretdb",
            program: installed_path("LKA_FERRETDB"),
            args: Box::new(move |port| {
                let mut args = vec![format!("--listen-addr=127.0.0.1:{port}")];
                args.extend(handler.iter().cloned());
                args.extend([
                    format!("--state-dir={}", root.display()),
                    "--telemetry=disable".into(),
                    "--debug-addr=-".into(),
                    "--log-level=warn".into(),
                ]);
                args
            }),
            ready: Box::new(|port| mongo_ping(port).is_ok()),
            before_retry,
            run_as: None,
        };
        FerretServer {
            server: ServerProcess::start(dir, launch),
        }
    }

    /// A connection string for the official driver:
    /// `mongodb://127.0.0.1:PORT/?directConnection=true`.
    pub fn url(&self) -> String {
        format!("mongodb://127.0.0.1:{}/?directConnection=true", self.port())
    }
}

impl std::ops::Deref for FerretServer {
    type Target = ServerProcess;
    fn deref(&self) -> &ServerProcess {
        &self.server
    }
}

impl std::ops::DerefMut for FerretServer {
    fn deref_mut(&mut self) -> &mut ServerProcess {
        &mut self.server
    }
}

/// FerretDB with its PostgreSQL backend: a PostgreSQL cluster of its own and FerretDB on
/// it, both killed when dropped. As a [`ServerProcess`] it is FerretDB (stopping or
/// killing it leaves PostgreSQL, and so the data, as it is).
pub struct FerretPostgresServer {
    // Dropped in this order: FerretDB before the database under it.
    ferret: FerretServer,
    postgres: PostgresServer,
}

impl FerretPostgresServer {
    /// Starts PostgreSQL, then FerretDB (`--handler=postgresql`) on it, each on a free loopback
    /// port, and waits until FerretDB answers a `ping` command.
    pub fn start() -> FerretPostgresServer {
        let postgres = PostgresServer::start();
        let ferret = FerretServer::start_with(Backend::Postgres(postgres.url()));
        FerretPostgresServer { ferret, postgres }
    }

    /// A connection string for the official driver (FerretDB's).
    pub fn url(&self) -> String {
        self.ferret.url()
    }

    /// The PostgreSQL server underneath.
    pub fn postgres(&self) -> &PostgresServer {
        &self.postgres
    }
}

impl Drop for FerretPostgresServer {
    fn drop(&mut self) {
        self.ferret.kill();
        // A clean shutdown (SIGTERM, no client left): a killed postmaster would leave its
        // shared-memory segment behind.
        self.postgres.stop();
    }
}

impl std::ops::Deref for FerretPostgresServer {
    type Target = ServerProcess;
    fn deref(&self) -> &ServerProcess {
        &self.ferret
    }
}

impl std::ops::DerefMut for FerretPostgresServer {
    fn deref_mut(&mut self) -> &mut ServerProcess {
        &mut self.ferret
    }
}

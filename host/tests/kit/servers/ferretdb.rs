//! FerretDB: a second, independent MongoDB wire-protocol server (Go), here with its SQLite
//! backend, built by `scripts/build-ferretdb.sh`.

use super::installed_path;
use super::mongo::mongo_ping;
use super::process::{Launch, ServerProcess};

/// A FerretDB server (`--handler=sqlite`), its SQLite files, state and log in its temporary
/// directory. Unlike SecantusDB it announces no replica set, refuses TTL indexes (code 238),
/// implements only `$sum` and `$count` in `$group`, and has no transactions.
pub struct FerretServer {
    server: ServerProcess,
}

impl FerretServer {
    /// Starts a server on a free loopback port with a fresh SQLite directory and waits until
    /// it answers a `ping` command.
    pub fn start() -> FerretServer {
        let dir = tempfile::Builder::new()
            .prefix("lka-ferretdb-")
            .tempdir()
            .expect("create a temporary directory");
        let root = dir.path().to_path_buf();
        std::fs::create_dir_all(root.join("data")).expect("create the SQLite directory");
        let launch = Launch {
            name: "ferretdb",
            program: installed_path("LKA_FERRETDB"),
            args: Box::new(move |port| {
                vec![
                    format!("--listen-addr=127.0.0.1:{port}"),
                    "--handler=sqlite".into(),
                    // A directory URI: one SQLite file per database in it.
                    format!("--sqlite-url=file:{}/", root.join("data").display()),
                    format!("--state-dir={}", root.display()),
                    "--telemetry=disable".into(),
                    "--debug-addr=-".into(),
                    "--log-level=warn".into(),
                ]
            }),
            ready: Box::new(|port| mongo_ping(port).is_ok()),
            before_retry: |dir| {
                let _ = std::fs::remove_dir_all(dir.join("data"));
                let _ = std::fs::create_dir_all(dir.join("data"));
            },
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

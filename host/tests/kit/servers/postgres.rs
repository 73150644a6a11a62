//! PostgreSQL: a cluster of its own for each server (Debian's `postgresql` package, its
//! binaries in `LKA_PG_BIN_DIR`), the storage of FerretDB's `pg` handler
//! ([`super::ferretdb::FerretServer::start_postgres`]).
//!
//! PostgreSQL refuses to run as root; when this process is root (as in CI), `initdb` and
//! `postgres` run as the `postgres` system user the package creates (else `nobody`), and the
//! temporary directory is handed to that user.

use super::installed_path;
use super::process::{connect, Launch, RunAs, ServerProcess};
use std::ffi::CString;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The superuser `initdb` creates (`-U`), trusted without a password on loopback.
pub const PG_USER: &str = "lka";
/// The database FerretDB keeps its MongoDB databases in (as schemas): the one `initdb`
/// creates.
pub const PG_DATABASE: &str = "postgres";

/// A PostgreSQL server on a free loopback port, its cluster (`data/`), Unix socket and log
/// in its temporary directory; `fsync` off, as nothing here must survive a power cut.
pub struct PostgresServer {
    server: ServerProcess,
}

impl PostgresServer {
    /// Creates a cluster with `initdb`, starts `postgres` on a free loopback port and waits
    /// until it accepts a connection (a port taken meanwhile is retried on another).
    pub fn start() -> PostgresServer {
        let bin = installed_path("LKA_PG_BIN_DIR");
        let run_as = unprivileged_user();
        // As root PostgreSQL runs as another user, who must reach the cluster's directory:
        // TMPDIR may be private (mode 700 above it), /tmp never is.
        let parent = match run_as {
            Some(_) => PathBuf::from("/tmp"),
            None => std::env::temp_dir(),
        };
        let dir = tempfile::Builder::new()
            .prefix("lka-postgres-")
            .tempdir_in(parent)
            .expect("create a temporary directory");
        let root = dir.path().to_path_buf();
        if let Some(user) = run_as {
            std::os::unix::fs::chown(&root, Some(user.uid), Some(user.gid))
                .unwrap_or_else(|e| panic!("chown {} to uid {}: {e}", root.display(), user.uid));
        }
        init_cluster(&bin, &root, run_as);
        let launch = Launch {
            name: "postgres",
            program: bin.join("postgres"),
            args: Box::new(move |port| {
                let mut args = vec![
                    "-D".to_string(),
                    root.join("data").display().to_string(),
                    "-p".into(),
                    port.to_string(),
                    // The Unix socket in our directory, not in /var/run/postgresql.
                    "-k".into(),
                    root.display().to_string(),
                ];
                for setting in [
                    "listen_addresses=127.0.0.1",
                    "fsync=off",
                    "synchronous_commit=off",
                    "full_page_writes=off",
                    "shared_buffers=32MB",
                    "max_connections=100",
                ] {
                    args.push("-c".into());
                    args.push(setting.into());
                }
                args
            }),
            ready: Box::new(|port| pg_accepts(port).unwrap_or(false)),
            // A failed bind leaves the cluster as it was (postmaster.pid is removed on exit).
            before_retry: |_| {},
            run_as,
        };
        PostgresServer {
            server: ServerProcess::start(dir, launch),
        }
    }

    /// A connection URL for FerretDB (pgx): `postgres://lka@127.0.0.1:PORT/postgres`.
    pub fn url(&self) -> String {
        format!(
            "postgres://{PG_USER}@127.0.0.1:{}/{PG_DATABASE}",
            self.port()
        )
    }
}

impl std::ops::Deref for PostgresServer {
    type Target = ServerProcess;
    fn deref(&self) -> &ServerProcess {
        &self.server
    }
}

impl std::ops::DerefMut for PostgresServer {
    fn deref_mut(&mut self) -> &mut ServerProcess {
        &mut self.server
    }
}

/// The user to run PostgreSQL as: `None` (this process's) unless this process is root, then
/// the `postgres` system user, or `nobody` where there is none.
fn unprivileged_user() -> Option<RunAs> {
    // SAFETY: geteuid(2) cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    let user = ["postgres", "nobody"]
        .into_iter()
        .find_map(lookup_user)
        .expect("running as root, and there is neither a `postgres` nor a `nobody` user to run PostgreSQL as: run scripts/install-test-deps.sh (Debian's postgresql package creates `postgres`)");
    Some(user)
}

/// The uid and primary gid of the user called `name`, if there is one (not root).
fn lookup_user(name: &str) -> Option<RunAs> {
    let cname = CString::new(name).ok()?;
    // SAFETY: getpwnam_r (thread-safe) fills `pw` with pointers into `buf`, both alive
    // here; only the two integers are read, and only when it found the user.
    unsafe {
        let mut pw: libc::passwd = std::mem::zeroed();
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        let mut buf = vec![0 as libc::c_char; 16 * 1024];
        let rc = libc::getpwnam_r(
            cname.as_ptr(),
            &mut pw,
            buf.as_mut_ptr(),
            buf.len(),
            &mut found,
        );
        if rc != 0 || found.is_null() || pw.pw_uid == 0 {
            return None;
        }
        Some(RunAs {
            uid: pw.pw_uid,
            gid: pw.pw_gid,
        })
    }
}

/// `initdb` into `root/data`: UTF-8, C locale, trust authentication, superuser [`PG_USER`],
/// no sync to disk. Its output goes to `root/initdb.log`, shown when it fails.
fn init_cluster(bin: &Path, root: &Path, run_as: Option<RunAs>) {
    let log: PathBuf = root.join("initdb.log");
    let out =
        std::fs::File::create(&log).unwrap_or_else(|e| panic!("create {}: {e}", log.display()));
    let err = out.try_clone().expect("clone log file handle");
    let mut command = Command::new(bin.join("initdb"));
    if let Some(user) = run_as {
        user.apply(&mut command, root);
    }
    let status = command
        .arg("-D")
        .arg(root.join("data"))
        .args([
            "-U",
            PG_USER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
        ])
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .status()
        .unwrap_or_else(|e| panic!("run {}: {e}", bin.join("initdb").display()));
    if !status.success() {
        panic!(
            "initdb into {} failed ({status}); its output:\n{}",
            root.join("data").display(),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }
}

/// Whether the server on `port` accepts a session: a protocol 3.0 startup message as
/// [`PG_USER`] is answered with an authentication request (`R`); a server still starting
/// up answers an error (`E`).
fn pg_accepts(port: u16) -> io::Result<bool> {
    let mut stream = connect(port)?;
    let mut body = Vec::new();
    body.extend_from_slice(&196_608i32.to_be_bytes()); // protocol 3.0
    for (k, v) in [("user", PG_USER), ("database", PG_DATABASE)] {
        body.extend_from_slice(k.as_bytes());
        body.push(0);
        body.extend_from_slice(v.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut msg = ((body.len() + 4) as i32).to_be_bytes().to_vec();
    msg.extend_from_slice(&body);
    stream.write_all(&msg)?;
    let mut kind = [0u8; 1];
    stream.read_exact(&mut kind)?;
    // Terminate ('X'), so the server logs no "unexpected EOF".
    let _ = stream.write_all(&[b'X', 0, 0, 0, 4]);
    Ok(kind[0] == b'R')
}

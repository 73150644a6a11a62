//! One server process on a free loopback port: started, waited for, stopped, restarted.

use crate::kit::ports::free_port;
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to answer after it was started: 60 s, or
/// `$LKA_SERVER_START_TIMEOUT` seconds.
fn start_timeout() -> Duration {
    std::env::var("LKA_SERVER_START_TIMEOUT")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .map(Duration::from_secs_f64)
        .unwrap_or(Duration::from_secs(60))
}
/// How long `stop()` waits after SIGTERM before it sends SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);
const LOG_FILE: &str = "server.log";

fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// One running server process, its output appended to `log`.
struct Proc {
    child: Child,
}

impl Proc {
    fn spawn(program: &Path, args: &[String], log: &Path, run_as: Option<RunAs>) -> Proc {
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap_or_else(|e| panic!("open {}: {e}", log.display()));
        let err = out.try_clone().expect("clone log file handle");
        let mut command = Command::new(program);
        if let Some(user) = run_as {
            user.apply(&mut command, log.parent().unwrap_or(Path::new("/")));
        }
        let child = command
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", program.display()));
        Proc { child }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, wait up to `STOP_TIMEOUT`, then SIGKILL.
    fn terminate(mut self) {
        if self.exited().is_some() {
            return;
        }
        // SAFETY: plain kill(2) on the pid of a child we have not reaped yet.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if self.exited().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill();
    }
}

/// Why a server did not come up.
struct StartError {
    message: String,
    /// The process exited (e.g. its port was taken meanwhile): worth another port.
    exited: bool,
}

/// Polls `ready` until it returns true, the process exits, or `start_timeout()` passes.
fn wait_ready(
    name: &str,
    proc: &mut Proc,
    log: &Path,
    mut ready: impl FnMut() -> bool,
) -> Result<Duration, StartError> {
    let t0 = Instant::now();
    let timeout = start_timeout();
    loop {
        if ready() {
            eprintln!("{name} answered after {:.2?}", t0.elapsed());
            return Ok(t0.elapsed());
        }
        if let Some(status) = proc.exited() {
            return Err(StartError {
                message: format!(
                    "{name} exited ({status}) before it answered; tail of {}:\n{}",
                    log.display(),
                    log_tail(log, 40)
                ),
                exited: true,
            });
        }
        if t0.elapsed() > timeout {
            return Err(StartError {
                message: format!(
                    "{name} did not answer within {timeout:?}; tail of {}:\n{}",
                    log.display(),
                    log_tail(log, 40)
                ),
                exited: false,
            });
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

pub(super) fn connect(port: u16) -> io::Result<TcpStream> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// An unprivileged user to run a server as (PostgreSQL refuses to run as root).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunAs {
    /// Its user id.
    pub uid: u32,
    /// Its primary group id.
    pub gid: u32,
}

impl RunAs {
    /// Sets the user and group of `command`, and its working directory to `dir` (the
    /// user may not be allowed into the test's own).
    pub fn apply(self, command: &mut Command, dir: &Path) {
        use std::os::unix::process::CommandExt;
        command.uid(self.uid).gid(self.gid).current_dir(dir);
    }
}

/// How to launch one kind of server and see that it answers.
pub(super) struct Launch {
    /// Name in messages and in the log.
    pub name: &'static str,
    pub program: PathBuf,
    /// The command-line arguments for a port.
    pub args: Box<dyn Fn(u16) -> Vec<String> + Send + Sync>,
    /// Whether the server on a port answers.
    pub ready: Box<dyn Fn(u16) -> bool + Send + Sync>,
    /// Cleans the directory before a retry on another port.
    pub before_retry: fn(&Path),
    /// The user to run the server as; `None`: this process's.
    pub run_as: Option<RunAs>,
}

/// A server process on a loopback port, its files and its log (`server.log`) in a
/// temporary directory. Killed, and the directory removed, when dropped.
pub struct ServerProcess {
    launch: Launch,
    port: u16,
    proc: Option<Proc>,
    dir: tempfile::TempDir,
}

impl ServerProcess {
    /// Starts the server on a free port and waits until it answers; a port taken by
    /// someone else between the check and the bind is retried on another (3 tries).
    pub(super) fn start(dir: tempfile::TempDir, launch: Launch) -> ServerProcess {
        let mut server = ServerProcess {
            launch,
            port: free_port(),
            proc: None,
            dir,
        };
        let mut first_err = None;
        for attempt in 0..3 {
            if attempt > 0 {
                server.port = free_port();
                (server.launch.before_retry)(server.dir.path());
            }
            match server.spawn_and_wait() {
                Ok(()) => return server,
                Err(e) => {
                    server.kill();
                    if !e.exited {
                        panic!("{}", e.message);
                    }
                    first_err.get_or_insert(e.message);
                }
            }
        }
        panic!(
            "{} failed to start 3 times; first error: {}",
            server.launch.name,
            first_err.unwrap()
        )
    }

    fn spawn_and_wait(&mut self) -> Result<(), StartError> {
        let log = self.log_path();
        writeln!(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log)
                .unwrap(),
            "=== starting {} on port {}",
            self.launch.program.display(),
            self.port
        )
        .unwrap();
        let args = (self.launch.args)(self.port);
        let mut proc = Proc::spawn(&self.launch.program, &args, &log, self.launch.run_as);
        let (port, ready) = (self.port, &self.launch.ready);
        let result = wait_ready(self.launch.name, &mut proc, &log, || ready(port));
        self.proc = Some(proc);
        result.map(|_| ())
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The temporary directory (data files and `server.log`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join(LOG_FILE)
    }

    pub fn pid(&self) -> Option<u32> {
        self.proc.as_ref().map(Proc::pid)
    }

    pub fn is_running(&self) -> bool {
        self.proc.is_some()
    }

    /// Stops the server gracefully (SIGTERM, then SIGKILL after a while) and waits
    /// for it. The directory is kept.
    pub fn stop(&mut self) {
        if let Some(p) = self.proc.take() {
            p.terminate();
        }
    }

    /// Kills the server at once (SIGKILL), as a crash would. The directory is kept.
    pub fn kill(&mut self) {
        if let Some(p) = self.proc.take() {
            p.kill();
        }
    }

    /// Stops the server if it runs, then starts it again on the same port with the
    /// same directory, and waits until it answers.
    pub fn restart(&mut self) {
        self.stop();
        if let Err(e) = self.spawn_and_wait() {
            self.kill();
            panic!("{}", e.message);
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

//! End to end with the patched livekit-server's analytics export (`livekit/`): runs
//! `scripts/livekit-export-e2e.sh` against this build's host binary, once per scenario.
//! The scenarios run one after the other (each starts livekit-server, the host and a
//! MongoDB-wire server on a 2-core machine, and the session waits for livekit-server's
//! 30-second stats tick). When the script cannot install its tools (exit code 77: no Go,
//! no Python venv, no network), the reason is printed and the test passes as skipped,
//! unless `LKA_REQUIRE_LIVEKIT=1` (as `scripts/test.sh` sets it).

// Each test crate uses part of the kit; every item of it is used by some test or bench.
#[allow(dead_code)]
mod kit;

use std::process::Command;
use std::sync::Mutex;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn run(scenario: &str) {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scripts/livekit-export-e2e.sh"
    );
    let status = Command::new("bash")
        .arg(script)
        .env("LKA_HOST_BIN", kit::process::BIN)
        .env("LKA_EXPORT_SCENARIO", scenario)
        .status()
        .expect("running scripts/livekit-export-e2e.sh");
    match status.code() {
        Some(0) => {}
        Some(77) if std::env::var("LKA_REQUIRE_LIVEKIT").as_deref() == Ok("1") => {
            panic!("scripts/livekit-export-e2e.sh could not install its tools and LKA_REQUIRE_LIVEKIT=1")
        }
        Some(77) => {
            eprintln!(
                "SKIPPED: scripts/livekit-export-e2e.sh could not install its tools (see above)"
            )
        }
        other => {
            panic!("scripts/livekit-export-e2e.sh ({scenario}) failed with {other:?} (logs above)")
        }
    }
}

/// A session (audio and video, a subscriber, mute/unmute) exported to the host: every event
/// with its ids, stats with scores, node rooms, nothing stored twice, and a second delivery
/// of the whole export stores nothing new.
#[test]
fn livekit_server_exports_a_session_to_the_host() {
    run("session");
}

/// The host is stopped for 10 s mid-session and restarted: livekit-server keeps serving and
/// what was queued meanwhile arrives (the script prints what was lost: nothing).
#[test]
fn livekit_server_export_survives_a_host_restart() {
    run("host-restart");
}

/// The export points at a closed port: the session works, drops are counted and logged,
/// and livekit-server stops promptly.
#[test]
fn livekit_server_export_to_a_closed_port_drops_and_counts() {
    run("closed-port");
}

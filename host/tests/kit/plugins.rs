//! Plugins: WAT components built against `wit/`, the example plugins of `plugins/dist/`,
//! plugin configs, a host running a plugin beside the file store, and a small HTTP server for
//! plugins that post.

use analytics_host::app::Host;
use analytics_host::config::{AnalyticsConfig, FileStoreConfig, PluginConfig};
use analytics_host::plugin::config::{Grants, PluginLimits, PluginSettings};
use analytics_host::plugin::HOST_WIT_VERSION;
use analytics_host::sinks::file::FileSink;
use analytics_host::sinks::plugin::PluginSink;
use analytics_host::sinks::Sink;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The contract's WIT text.
pub fn wit_text() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit/analytics.wit"))
        .expect("wit/analytics.wit")
}

/// Builds a component from a core module in WAT that targets `world` of the WIT `wit`.
pub fn component(wit: &str, world: &str, wat: &str) -> Vec<u8> {
    let mut resolve = wit_parser::Resolve::default();
    let pkg = resolve.push_str("test.wit", wit).expect("WIT parses");
    let world = resolve.select_world(&[pkg], Some(world)).expect("world");
    let mut module = wat::parse_str(wat).expect("WAT parses");
    wit_component::embed_component_metadata(
        &mut module,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
    )
    .expect("metadata embeds");
    wit_component::ComponentEncoder::default()
        .module(&module)
        .expect("module accepted")
        .validate(true)
        .encode()
        .expect("component encodes")
}

/// The core-module boilerplate every WAT sink shares: memory, a bump `cabi_realloc`, the log
/// import (of contract `version`), `initialize-database` returning `ok` (and logging
/// "init"), and data: "init" at 300, a return area at 16.
pub fn sink_wat(version: &str, send_batch_body: &str, extra: &str) -> String {
    sink_wat_with_init(version, OK_INIT_BODY, send_batch_body, extra)
}

/// `initialize-database` that logs "init" and returns `ok`.
pub const OK_INIT_BODY: &str = r#"
    (global.set $heap (i32.const 4096))
    (call $log (i32.const 2) (i32.const 300) (i32.const 4))
    (i32.store8 (i32.const 16) (i32.const 0))
    (i32.const 16)"#;

/// [`sink_wat`] with `initialize-database` (params: the config list) doing `init_body`.
pub fn sink_wat_with_init(
    version: &str,
    init_body: &str,
    send_batch_body: &str,
    extra: &str,
) -> String {
    format!(
        r#"(module
  (import "livekit:analytics/log@{version}" "log" (func $log (param i32 i32 i32)))
  {extra}
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 4096))
  (data (i32.const 300) "init")
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $ptr i32)
    ;; align up, bump; grow memory when needed
    (local.set $ptr (i32.and (i32.add (global.get $heap) (i32.sub (local.get 2) (i32.const 1)))
                             (i32.xor (i32.sub (local.get 2) (i32.const 1)) (i32.const -1))))
    (global.set $heap (i32.add (local.get $ptr) (local.get 3)))
    (block $ok
      (br_if $ok (i32.le_u (global.get $heap) (i32.mul (memory.size) (i32.const 65536))))
      (drop (memory.grow (i32.add (i32.div_u (i32.sub (global.get $heap) (i32.mul (memory.size) (i32.const 65536))) (i32.const 65536)) (i32.const 1)))))
    (local.get $ptr))
  (func (export "initialize-database") (param i32 i32) (result i32)
    {init_body})
  (func (export "send-batch") (param $events i32) (param $nevents i32) (param $stats i32) (param $nstats i32) (result i32)
    {send_batch_body})
)"#
    )
}

/// `send-batch` that logs the first event's id at info level and returns `ok`.
pub const GOOD_BODY: &str = r#"
    (global.set $heap (i32.const 4096))
    (if (local.get $nevents)
      (then (call $log (i32.const 2) (i32.load (local.get $events)) (i32.load offset=4 (local.get $events)))))
    (i32.store8 (i32.const 16) (i32.const 0))
    (i32.const 16)"#;

/// A sink whose `initialize-database` logs "init", calls `status.give-up("bad setting:
/// dir")` and returns `err("cannot work")`: it can never work with its configuration.
pub fn giving_up_sink() -> Vec<u8> {
    let version = analytics_host::plugin::HOST_WIT_VERSION;
    let extra = format!(
        r#"(import "livekit:analytics/status@{version}" "give-up" (func $give_up (param i32 i32)))
  (data (i32.const 320) "bad setting: dir")
  (data (i32.const 340) "cannot work")"#
    );
    let init = r#"
    (global.set $heap (i32.const 4096))
    (call $log (i32.const 2) (i32.const 300) (i32.const 4))
    (call $give_up (i32.const 320) (i32.const 16))
    (i32.store8 (i32.const 16) (i32.const 1))
    (i32.store (i32.const 20) (i32.const 340))
    (i32.store (i32.const 24) (i32.const 11))
    (i32.const 16)"#;
    component(
        &wit_text(),
        "sink",
        &sink_wat_with_init(version, init, GOOD_BODY, &extra),
    )
}

/// A working sink built against contract 0.1.0 (the WIT before `status` was added), as a
/// plugin built with an older copy of `wit/` is.
pub fn good_sink_built_for_0_1_0() -> Vec<u8> {
    let current = wit_text();
    let start = current
        .find("/// What a plugin may tell the host")
        .expect("status docs");
    let end = start + current[start..].find("\n}\n").expect("end of status") + 3;
    let old = format!("{}{}", &current[..start], &current[end..])
        .replace("    import status;\n", "")
        .replace(
            &format!(
                "livekit:analytics@{}",
                analytics_host::plugin::HOST_WIT_VERSION
            ),
            "livekit:analytics@0.1.0",
        );
    assert!(
        !old.contains("interface status") && !old.contains("import status"),
        "the 0.1.0 text still has status"
    );
    component(&old, "sink", &sink_wat("0.1.0", GOOD_BODY, ""))
}

/// A working sink for the host's contract version.
pub fn good_sink() -> Vec<u8> {
    component(
        &wit_text(),
        "sink",
        &sink_wat(HOST_WIT_VERSION, GOOD_BODY, ""),
    )
}

/// Writes a component to a file in `dir`.
pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(format!("{name}.wasm"));
    std::fs::write(&path, bytes).unwrap();
    path
}

/// A plugin entry with no grants and the given timeout / memory.
pub fn plugin_config(name: &str, path: &Path, timeout: Duration, memory: u64) -> PluginConfig {
    PluginConfig {
        name: name.into(),
        path: path.to_path_buf(),
        config: PluginSettings::default(),
        grants: Grants::default(),
        limits: PluginLimits { timeout, memory },
        enabled: true,
    }
}

/// The example plugin `name` built by `scripts/build-plugins.sh`
/// (`plugins/dist/<name>.wasm`), if it is there.
pub fn dist(name: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../plugins/dist")
        .join(format!("{name}.wasm"));
    path.is_file().then_some(path)
}

/// Host settings that send every 50 ms, with the file store in `dir`.
pub fn file_store_settings(dir: PathBuf) -> AnalyticsConfig {
    AnalyticsConfig {
        interval: Duration::from_millis(50),
        file: FileStoreConfig {
            enabled: Some(true),
            dir,
            ..FileStoreConfig::default()
        },
        ..AnalyticsConfig::default()
    }
}

/// Starts a host with two sinks: `plugin`, and the file store of `settings`.
pub fn beside_file_store(plugin: PluginSink, settings: &AnalyticsConfig) -> Host {
    let sinks: Vec<Box<dyn Sink>> = vec![Box::new(plugin), Box::new(FileSink::new(&settings.file))];
    Host::start(sinks, settings)
}

/// A minimal HTTP/1.1 server: answers 200 to every request and keeps each body.
pub async fn http_server() -> (u16, Arc<Mutex<Vec<(String, String)>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = Arc::new(Mutex::new(Vec::new()));
    let keep = received.clone();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let keep = keep.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                loop {
                    let head_end = loop {
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                        let n = socket.read(&mut chunk).await.unwrap();
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                    let header = |name: &str| {
                        head.lines().find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
                        })
                    };
                    let mut body = buf.split_off(head_end);
                    buf.clear();
                    if let Some(len) = header("content-length") {
                        let len: usize = len.parse().unwrap();
                        while body.len() < len {
                            let n = socket.read(&mut chunk).await.unwrap();
                            body.extend_from_slice(&chunk[..n]);
                        }
                        buf = body.split_off(len);
                    } else if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
                        let mut decoded = Vec::new();
                        loop {
                            let line_end = loop {
                                if let Some(i) = body.windows(2).position(|w| w == b"\r\n") {
                                    break i;
                                }
                                let n = socket.read(&mut chunk).await.unwrap();
                                body.extend_from_slice(&chunk[..n]);
                            };
                            let size = usize::from_str_radix(
                                String::from_utf8_lossy(&body[..line_end]).trim(),
                                16,
                            )
                            .unwrap();
                            while body.len() < line_end + 2 + size + 2 {
                                let n = socket.read(&mut chunk).await.unwrap();
                                body.extend_from_slice(&chunk[..n]);
                            }
                            decoded.extend_from_slice(&body[line_end + 2..line_end + 2 + size]);
                            body.drain(..line_end + 2 + size + 2);
                            if size == 0 {
                                break;
                            }
                        }
                        buf = body;
                        body = decoded;
                    }
                    let first = head.lines().next().unwrap_or_default().to_string();
                    keep.lock()
                        .unwrap()
                        .push((first, String::from_utf8_lossy(&body).to_string()));
                    let reply = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: application/json\r\n\r\n{}";
                    if socket.write_all(reply.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, received)
}

/// A sink that does nothing and returns `ok` (no log call): the boundary cost alone.
pub fn good_sink_quiet() -> Vec<u8> {
    let body = r#"
    (global.set $heap (i32.const 4096))
    (i32.store8 (i32.const 16) (i32.const 0))
    (i32.const 16)"#;
    component(&wit_text(), "sink", &sink_wat(HOST_WIT_VERSION, body, ""))
}

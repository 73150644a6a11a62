//! A plugin's log: lines from its `log` import and from its stdout/stderr, forwarded to
//! `tracing`, counted per level, and the most recent kept for tests and diagnostics.

use super::wit::current::livekit::analytics::log;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Longest log message kept from a plugin; longer ones are cut.
pub const MAX_LOG_MESSAGE: usize = 4096;
/// How many recent log lines each plugin keeps in memory.
pub const KEPT_LOG_LINES: usize = 1000;

/// Log lines of one plugin: forwarded to `tracing` and counted; recent ones kept for tests
/// and diagnostics.
#[derive(Debug, Default)]
pub struct PluginLog {
    counts: [AtomicU64; 5],
    recent: Mutex<VecDeque<(log::Level, String)>>,
}

impl PluginLog {
    /// Lines logged at `level` so far.
    pub fn count(&self, level: log::Level) -> u64 {
        self.counts[level as usize].load(Ordering::Relaxed)
    }

    /// The most recent lines (up to [`KEPT_LOG_LINES`]), oldest first.
    pub fn recent(&self) -> Vec<(log::Level, String)> {
        self.recent
            .lock()
            .expect("log lock")
            .iter()
            .cloned()
            .collect()
    }

    pub(super) fn record(&self, plugin: &str, level: log::Level, mut message: String) {
        if message.len() > MAX_LOG_MESSAGE {
            let mut cut = MAX_LOG_MESSAGE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        self.counts[level as usize].fetch_add(1, Ordering::Relaxed);
        match level {
            log::Level::Trace => tracing::trace!(plugin, "{message}"),
            log::Level::Debug => tracing::debug!(plugin, "{message}"),
            log::Level::Info => tracing::info!(plugin, "{message}"),
            log::Level::Warn => tracing::warn!(plugin, "{message}"),
            log::Level::Error => tracing::error!(plugin, "{message}"),
        }
        let mut recent = self.recent.lock().expect("log lock");
        if recent.len() == KEPT_LOG_LINES {
            recent.pop_front();
        }
        recent.push_back((level, message));
    }
}

/// The plugin's stdout/stderr: each line becomes a log line of the plugin.
#[derive(Clone)]
pub(super) struct LogOutput {
    pub(super) name: Arc<str>,
    pub(super) log: Arc<PluginLog>,
    pub(super) level: log::Level,
}

impl wasmtime_wasi::cli::IsTerminal for LogOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl wasmtime_wasi::cli::StdoutStream for LogOutput {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(LineWriter {
            out: self.clone(),
            buf: Vec::new(),
        })
    }
}

struct LineWriter {
    out: LogOutput,
    buf: Vec<u8>,
}

impl LineWriter {
    fn emit(&mut self, upto: usize) {
        let line: Vec<u8> = self.buf.drain(..upto).collect();
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\n', '\r']);
        if !text.is_empty() {
            self.out
                .log
                .record(&self.out.name, self.out.level, text.to_string());
        }
    }
}

impl tokio::io::AsyncWrite for LineWriter {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        data: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        this.buf.extend_from_slice(data);
        while let Some(i) = this.buf.iter().position(|b| *b == b'\n') {
            this.emit(i + 1);
        }
        if this.buf.len() >= MAX_LOG_MESSAGE {
            this.emit(this.buf.len());
        }
        std::task::Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let len = this.buf.len();
        this.emit(len);
        std::task::Poll::Ready(Ok(()))
    }
}

//! The embedded store: JSON Lines files of the contract's documents, one file per kind per
//! UTC day, rotated by size: `<dir>/<collection>-<YYYY-MM-DD>.<n>.jsonl`. Needs no server.
//! Beside them, the query [`index`] the read API uses.

pub mod config;
pub mod index;

use super::{BatchReport, Sink, SinkError};
use crate::model::{ItemKind, SharedItem};
use crate::sinks::file::config::FileStoreConfig;
use async_trait::async_trait;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Writes items as JSON Lines files.
pub struct FileSink {
    dir: PathBuf,
    max_file_bytes: u64,
    current: [Option<OpenFile>; 4],
    /// Whether to keep the query index, and the index once open.
    indexed: bool,
    index: Option<index::writer::IndexWriter>,
    /// Items left out of the index because it was behind (`index_skipped` on `/metrics`).
    index_skipped: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

struct OpenFile {
    day: String,
    seq: u32,
    size: u64,
}

impl FileSink {
    /// A store in `config.dir`.
    pub fn new(config: &FileStoreConfig) -> Self {
        FileSink {
            dir: config.dir.clone(),
            max_file_bytes: config.max_file_bytes.max(1),
            current: Default::default(),
            indexed: config.index,
            index: None,
            index_skipped: Default::default(),
        }
    }

    /// The path of a kind's file for a day and sequence number.
    pub fn file_path(dir: &Path, kind: ItemKind, day: &str, seq: u32) -> PathBuf {
        dir.join(format!("{}-{day}.{seq}.jsonl", kind.collection()))
    }

    /// Hands the stored events or stats at `positions` to the query index's thread. The
    /// files are the record: an index that cannot be written or falls behind is logged and
    /// misses these items (the API then does not see them).
    fn add_to_index(&mut self, batch: &[SharedItem], positions: &[usize]) {
        if let Some(index) = self.index.as_mut() {
            index.add(positions.iter().map(|&i| batch[i].clone()).collect());
        }
    }

    /// Picks the file of `day` to append `len` bytes to, rotating by day and size; returns
    /// its sequence number.
    async fn target(&mut self, kind: ItemKind, day: &str, len: u64) -> std::io::Result<u32> {
        let slot = &mut self.current[kind.index()];
        if slot.as_ref().is_none_or(|f| f.day != day) {
            // Continue the newest file of the day, if one exists (e.g. after a restart).
            let mut seq = 0;
            while tokio::fs::try_exists(Self::file_path(&self.dir, kind, day, seq + 1)).await? {
                seq += 1;
            }
            let size = match tokio::fs::metadata(Self::file_path(&self.dir, kind, day, seq)).await {
                Ok(meta) => meta.len(),
                Err(_) => 0,
            };
            *slot = Some(OpenFile {
                day: day.to_string(),
                seq,
                size,
            });
        }
        let file = slot.as_mut().expect("set above");
        if file.size > 0 && file.size + len > self.max_file_bytes {
            file.seq += 1;
            file.size = 0;
        }
        file.size += len;
        Ok(file.seq)
    }

    /// The lines of the items at `positions` (all of `kind`), grouped by the file of `day`
    /// they go to: (sequence number, text), written straight into each file's text.
    async fn lines(
        &mut self,
        kind: ItemKind,
        day: &str,
        batch: &[SharedItem],
        positions: &[usize],
    ) -> std::io::Result<Vec<(u32, String)>> {
        let mut chunks: Vec<(u32, String)> = Vec::new();
        let total = positions.iter().map(|&i| batch[i].json_len() + 1).sum();
        let mut text = String::with_capacity(total);
        let mut expiry = crate::model::ExpiryText::default();
        for &i in positions {
            let item = &batch[i];
            let start = text.len();
            item.push_json_with(&mut text, &mut expiry);
            text.push('\n');
            let seq = self.target(kind, day, (text.len() - start) as u64).await?;
            match chunks.last() {
                Some((last, _)) if *last != seq => {
                    // Rotated: this line starts the next file's text.
                    let line = text.split_off(start);
                    let done = std::mem::replace(&mut text, line);
                    chunks.last_mut().expect("matched").1 = done;
                    chunks.push((seq, String::new()));
                }
                None => chunks.push((seq, String::new())),
                Some(_) => {}
            }
        }
        if let Some(last) = chunks.last_mut() {
            last.1 = text;
        }
        Ok(chunks)
    }

    /// Appends each chunk to its file, on a blocking thread (the text moves there, no copy).
    async fn write(
        &self,
        kind: ItemKind,
        day: &str,
        chunks: Vec<(u32, String)>,
    ) -> std::io::Result<()> {
        let files: Vec<(PathBuf, String)> = chunks
            .into_iter()
            .map(|(seq, text)| (Self::file_path(&self.dir, kind, day, seq), text))
            .collect();
        tokio::task::spawn_blocking(move || {
            for (path, text) in files {
                let mut file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)?;
                file.write_all(text.as_bytes())?;
            }
            Ok(())
        })
        .await
        .map_err(std::io::Error::other)?
    }
}

#[async_trait]
impl Sink for FileSink {
    fn name(&self) -> &str {
        "file"
    }

    fn kinds(&self) -> &[ItemKind] {
        &ItemKind::ALL
    }

    fn reads_quality(&self) -> bool {
        self.indexed
    }

    fn extra_counters(&self) -> Option<crate::telemetry::ExtraCountersFn> {
        let skipped = self.index_skipped.clone();
        Some(std::sync::Arc::new(move || {
            vec![(
                "index_skipped",
                skipped.load(std::sync::atomic::Ordering::Relaxed),
            )]
        }))
    }

    async fn initialize(&mut self) -> Result<(), SinkError> {
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(|e| SinkError::Store(format!("creating {}: {e}", self.dir.display())))?;
        if self.indexed && self.index.is_none() {
            let index = index::writer::IndexWriter::start(&self.dir, self.index_skipped.clone())
                .map_err(|e| SinkError::Store(format!("{e:#}")))?;
            self.index = Some(index);
        }
        Ok(())
    }

    async fn send_batch(&mut self, batch: &[SharedItem]) -> BatchReport {
        let mut report = BatchReport::stored();
        let day = crate::model::time::utc_day(SystemTime::now());
        for kind in ItemKind::ALL {
            let positions: Vec<usize> = (0..batch.len())
                .filter(|&i| batch[i].kind == kind)
                .collect();
            if positions.is_empty() {
                continue;
            }
            let written = match self.lines(kind, &day, batch, &positions).await {
                Ok(chunks) => self.write(kind, &day, chunks).await,
                Err(e) => Err(e),
            };
            if written.is_ok() && matches!(kind, ItemKind::Event | ItemKind::Stat) {
                self.add_to_index(batch, &positions);
            }
            if let Err(err) = written {
                self.current[kind.index()] = None;
                report.retry.extend(positions);
                report.error = Some(format!(
                    "writing {} under {}: {err}",
                    kind.collection(),
                    self.dir.display()
                ));
            }
        }
        report
    }
}

//! The embedded store: JSON Lines files of the contract's documents, one file per kind per
//! UTC day, rotated by size: `<dir>/<collection>-<YYYY-MM-DD>.<n>.jsonl`. Needs no server.
//! Beside them, the query [`index`] the read API uses.

pub mod config;
pub mod index;

use super::{BatchReport, Sink, SinkError};
use crate::config::FileStoreConfig;
use crate::model::{ItemKind, SharedItem};
use async_trait::async_trait;
use std::path::{Path, PathBuf};
use std::time::SystemTime;
use tokio::io::AsyncWriteExt;

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

    /// Picks the file to append `len` bytes to, rotating by day and size.
    async fn target(&mut self, kind: ItemKind, len: u64) -> std::io::Result<PathBuf> {
        let day = humantime::format_rfc3339(SystemTime::now()).to_string()[..10].to_string();
        let slot = &mut self.current[kind.index()];
        if slot.as_ref().is_none_or(|f| f.day != day) {
            // Continue the newest file of the day, if one exists (e.g. after a restart).
            let mut seq = 0;
            while tokio::fs::try_exists(Self::file_path(&self.dir, kind, &day, seq + 1)).await? {
                seq += 1;
            }
            let size = match tokio::fs::metadata(Self::file_path(&self.dir, kind, &day, seq)).await
            {
                Ok(meta) => meta.len(),
                Err(_) => 0,
            };
            *slot = Some(OpenFile {
                day: day.clone(),
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
        Ok(Self::file_path(&self.dir, kind, &file.day, file.seq))
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
        for kind in ItemKind::ALL {
            let positions: Vec<usize> = (0..batch.len())
                .filter(|&i| batch[i].kind == kind)
                .collect();
            if positions.is_empty() {
                continue;
            }
            let written = async {
                // Lines go to the file that has room for them; one write per file.
                let mut chunks: Vec<(PathBuf, String)> = Vec::new();
                for &i in &positions {
                    let line = batch[i].json();
                    let path = self.target(kind, line.len() as u64 + 1).await?;
                    match chunks.last_mut() {
                        Some((last, text)) if *last == path => text.push_str(&line),
                        _ => chunks.push((path, line)),
                    }
                    chunks.last_mut().expect("pushed").1.push('\n');
                }
                for (path, text) in chunks {
                    let mut file = tokio::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&path)
                        .await?;
                    file.write_all(text.as_bytes()).await?;
                    file.flush().await?;
                }
                Ok::<(), std::io::Error>(())
            }
            .await;
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

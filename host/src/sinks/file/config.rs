//! `openvidu.analytics.file`: the embedded JSON Lines store.

use super::FileSink;
use crate::sinks::{Sink, SinkConfig, SinkContext};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The embedded JSON Lines store.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileStoreConfig {
    /// `true`/`false`; unset means "only when no other sink is configured".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Directory of the `.jsonl` files.
    #[serde(default = "default_data_dir")]
    pub dir: PathBuf,
    /// A file is rotated when it would grow past this many bytes.
    #[serde(default = "default_max_file_bytes")]
    pub max_file_bytes: u64,
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("analytics-data")
}
fn default_max_file_bytes() -> u64 {
    64 * 1024 * 1024
}

impl Default for FileStoreConfig {
    fn default() -> Self {
        Self {
            enabled: None,
            dir: default_data_dir(),
            max_file_bytes: default_max_file_bytes(),
        }
    }
}

#[async_trait]
impl SinkConfig for FileStoreConfig {
    fn key(&self) -> String {
        "openvidu.analytics.file".into()
    }

    fn name(&self) -> String {
        "file".into()
    }

    async fn build(&self, _context: &SinkContext) -> anyhow::Result<Box<dyn Sink>> {
        Ok(Box::new(FileSink::new(self)))
    }
}

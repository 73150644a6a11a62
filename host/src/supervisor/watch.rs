//! `--watch-config`: watches the configuration file (and the plugin components it names)
//! and asks for a reload when one of them changes.
//!
//! Editors and deploy tools replace files by renaming a new one over the old, so the
//! watcher watches each file's folder and filters by path; a burst of events (write,
//! chmod, rename) becomes one reload after a short quiet time.

use crate::config::{Config, ConfigSource};
use anyhow::Context;
use notify::{RecursiveMode, Watcher};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::mpsc;

/// How long the files must stay quiet after a change before the reload starts.
pub const SETTLE: Duration = Duration::from_millis(300);

/// A running watch of a configuration's files.
pub struct ConfigWatcher {
    _watcher: notify::RecommendedWatcher,
    changes: mpsc::UnboundedReceiver<PathBuf>,
    files: BTreeSet<PathBuf>,
}

impl ConfigWatcher {
    /// Watches the file `config` was read from and its enabled plugins' components.
    /// Fails when the configuration did not come from a file.
    pub fn start(config: &Config) -> anyhow::Result<ConfigWatcher> {
        let ConfigSource::File(path) = &config.source else {
            anyhow::bail!("--watch-config needs a configuration file (--config)");
        };
        let mut files = BTreeSet::new();
        files.insert(absolute(path));
        for plugin in config.analytics.plugins.iter().filter(|p| p.enabled) {
            files.insert(absolute(&plugin.path));
        }
        let (tx, changes) = mpsc::unbounded_channel();
        let wanted = files.clone();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                let Ok(event) = event else { return };
                if event.kind.is_access() {
                    return;
                }
                for path in event.paths {
                    if wanted.contains(&path) {
                        let _ = tx.send(path);
                    }
                }
            })
            .context("starting the configuration watcher")?;
        let folders: BTreeSet<&Path> = files.iter().filter_map(|f| f.parent()).collect();
        for folder in folders {
            watcher
                .watch(folder, RecursiveMode::NonRecursive)
                .with_context(|| format!("watching {}", folder.display()))?;
        }
        tracing::info!(files = ?files, "watching the configuration for changes");
        Ok(ConfigWatcher {
            _watcher: watcher,
            changes,
            files,
        })
    }

    /// The files watched.
    pub fn files(&self) -> &BTreeSet<PathBuf> {
        &self.files
    }

    /// Waits for a change, then for [`SETTLE`] without one; returns a changed file.
    pub async fn changed(&mut self) -> Option<PathBuf> {
        let first = self.changes.recv().await?;
        loop {
            match tokio::time::timeout(SETTLE, self.changes.recv()).await {
                Ok(Some(_)) => continue,
                Ok(None) => return None,
                Err(_) => return Some(first),
            }
        }
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

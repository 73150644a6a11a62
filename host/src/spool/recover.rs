//! Start-up: what a previous run left pending, with the sinks still missing each item;
//! rows of sinks no longer configured and records pending for nobody are cleaned up.
//!
//! A damaged file (pages overwritten by a failing disk or a partial copy) must not keep the
//! host from starting: redb reports some damage as `Corrupted` and panics on other damage,
//! so opening and reading run under `catch_unwind`; a damaged file is moved aside as
//! `spool.redb.damaged-<unix seconds>` and the host starts on a fresh spool.

use super::record::{decode, PENDING, RECORDS};
use super::{Recovered, FILE_NAME};
use crate::model::SinkScope;
use anyhow::Context;
use redb::{Database, Durability, ReadableTable};
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// A spool file found damaged at start and moved aside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DamagedSpool {
    /// Where the damaged file now is.
    pub moved_to: PathBuf,
    /// What was wrong with it (redb's error or panic message).
    pub reason: String,
}

/// Opens the database at `path` and reads what is pending for `sinks`. A damaged file is
/// moved aside and a fresh one created; the third value then says so.
pub(super) fn open(
    path: &Path,
    sinks: &[(String, SinkScope)],
) -> anyhow::Result<(Database, RecoverOutcome, Option<DamagedSpool>)> {
    let reason = match attempt(path, sinks) {
        Ok((db, outcome)) => return Ok((db, outcome, None)),
        Err(Attempt::Failed(err)) => return Err(err),
        Err(Attempt::Damaged(reason)) => reason,
    };
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let moved_to = path.with_file_name(format!("{FILE_NAME}.damaged-{seconds}"));
    std::fs::rename(path, &moved_to).with_context(|| {
        format!(
            "the spool {} is damaged ({reason}) and cannot be moved aside",
            path.display()
        )
    })?;
    tracing::error!(
        spool = %path.display(), moved_to = %moved_to.display(), %reason,
        "the spool file is damaged: moved aside, starting on a fresh spool; the items it \
         held are not delivered (inspect or delete the moved file)"
    );
    match attempt(path, sinks) {
        Ok((db, outcome)) => Ok((db, outcome, Some(DamagedSpool { moved_to, reason }))),
        Err(Attempt::Failed(err)) => Err(err),
        Err(Attempt::Damaged(again)) => {
            anyhow::bail!(
                "a fresh spool at {} is damaged too: {again}",
                path.display()
            )
        }
    }
}

/// Why an attempt to open the spool failed.
enum Attempt {
    /// The file is damaged (redb said `Corrupted`, or panicked).
    Damaged(String),
    /// Anything else (permissions, disk, another process holding it): not the file's fault.
    Failed(anyhow::Error),
}

fn attempt(
    path: &Path,
    sinks: &[(String, SinkScope)],
) -> Result<(Database, RecoverOutcome), Attempt> {
    let opened = quietly(|| -> anyhow::Result<_> {
        let db = Database::create(path)
            .with_context(|| format!("opening the spool {}", path.display()))?;
        let outcome =
            recover(&db, sinks).with_context(|| format!("reading the spool {}", path.display()))?;
        Ok((db, outcome))
    });
    match opened {
        Ok(Ok(opened)) => Ok(opened),
        Ok(Err(err)) => match corruption(&err) {
            Some(reason) => Err(Attempt::Damaged(reason)),
            None => Err(Attempt::Failed(err)),
        },
        Err(panic) => Err(Attempt::Damaged(panic)),
    }
}

/// Runs `f`, turning a panic into its message without printing it (the caller reports it).
fn quietly<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = catch_unwind(AssertUnwindSafe(f));
    std::panic::set_hook(hook);
    result.map_err(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        format!("redb panicked: {message}")
    })
}

/// redb's report of a damaged file anywhere in `err`'s chain: `Corrupted`, or an I/O error
/// of kind `InvalidData` (what it says of a file whose header is not a database's).
fn corruption(err: &anyhow::Error) -> Option<String> {
    use redb::{CommitError, DatabaseError, StorageError, TableError, TransactionError};
    let corrupted = |e: &StorageError| match e {
        StorageError::Corrupted(_) => true,
        StorageError::Io(io) => io.kind() == std::io::ErrorKind::InvalidData,
        _ => false,
    };
    err.chain().find_map(|cause| {
        let damaged = cause.downcast_ref::<StorageError>().is_some_and(corrupted)
            || matches!(cause.downcast_ref::<DatabaseError>(), Some(DatabaseError::Storage(e)) if corrupted(e))
            || matches!(cause.downcast_ref::<TableError>(), Some(TableError::Storage(e)) if corrupted(e))
            || matches!(cause.downcast_ref::<TransactionError>(), Some(TransactionError::Storage(e)) if corrupted(e))
            || matches!(cause.downcast_ref::<CommitError>(), Some(CommitError::Storage(e)) if corrupted(e))
            || matches!(cause.downcast_ref::<redb::Error>(), Some(redb::Error::Corrupted(_)));
        damaged.then(|| format!("{err:#}"))
    })
}

/// What [`recover`] found: the pending items, the records and bytes left, the next
/// sequence number.
pub(super) type RecoverOutcome = (Vec<Recovered>, u64, u64, u64);

/// Reads what is pending, cleaning up rows of unknown sinks and records pending for nobody.
pub(super) fn recover(
    db: &Database,
    sinks: &[(String, SinkScope)],
) -> anyhow::Result<RecoverOutcome> {
    let mut txn = db.begin_write()?;
    txn.set_durability(Durability::Immediate);
    let mut recovered = Vec::new();
    let (mut records_left, mut bytes_left, mut next_seq) = (0, 0, 0);
    {
        let mut records = txn.open_table(RECORDS)?;
        let mut pending = txn.open_table(PENDING)?;
        let mut by_seq: BTreeMap<u64, Vec<String>> = BTreeMap::new();
        let mut unknown: Vec<(u64, String)> = Vec::new();
        for row in pending.iter()? {
            let (key, _) = row?;
            let (seq, name) = key.value();
            if sinks.iter().any(|(n, _)| n == name) {
                by_seq.entry(seq).or_default().push(name.to_string());
            } else {
                unknown.push((seq, name.to_string()));
            }
        }
        if !unknown.is_empty() {
            let names: std::collections::BTreeSet<&str> =
                unknown.iter().map(|(_, n)| n.as_str()).collect();
            tracing::warn!(
                sinks = ?names, items = unknown.len(),
                "the spool holds items for sinks no longer configured; they are dropped"
            );
            for (seq, name) in &unknown {
                pending.remove((*seq, name.as_str()))?;
            }
        }
        let mut orphans = Vec::new();
        for row in records.iter()? {
            let (key, value) = row?;
            let seq = key.value();
            next_seq = seq + 1;
            let Some(names) = by_seq.remove(&seq) else {
                orphans.push(seq);
                continue;
            };
            match decode(value.value()) {
                Ok(mut item) => {
                    item.spool_seq = Some(seq);
                    records_left += 1;
                    bytes_left += value.value().len() as u64;
                    recovered.push(Recovered { item, sinks: names });
                }
                Err(err) => {
                    tracing::error!(seq, error = %err, "unreadable spool record dropped");
                    orphans.push(seq);
                    for name in &names {
                        pending.remove((seq, name.as_str()))?;
                    }
                }
            }
        }
        for seq in orphans {
            records.remove(seq)?;
        }
        // Pending rows whose record is gone (cannot happen unless the file was edited).
        for (seq, names) in by_seq {
            for name in names {
                pending.remove((seq, name.as_str()))?;
            }
        }
    }
    txn.commit()?;
    Ok((recovered, records_left, bytes_left, next_seq))
}

//! Start-up: what a previous run left pending, with the sinks still missing each item;
//! rows of sinks no longer configured and records pending for nobody are cleaned up.

use super::record::{decode, PENDING, RECORDS};
use super::Recovered;
use crate::model::ItemKind;
use redb::{Database, Durability, ReadableTable};
use std::collections::BTreeMap;

/// What [`recover`] found: the pending items, the records and bytes left, the next
/// sequence number.
pub(super) type RecoverOutcome = (Vec<Recovered>, u64, u64, u64);

/// Reads what is pending, cleaning up rows of unknown sinks and records pending for nobody.
pub(super) fn recover(
    db: &Database,
    sinks: &[(String, Vec<ItemKind>)],
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

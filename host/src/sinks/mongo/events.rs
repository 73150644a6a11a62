//! Events and their `active_entities` changes (`entities.rs`). On a replica set (or
//! mongos) both are written in one transaction, as the fork does, so a reader never sees an
//! event without its change; on a standalone server (or one that refuses transactions,
//! FerretDB) the events first, then the changes, which are idempotent and order-safe on
//! their own. Either way the changes of the events stored now *or before* (duplicates: a
//! retry, a replay from the spool, another host) are applied, so an event whose change
//! failed is sent again and completes it. The same holds for the rooms' summaries
//! (`room_sessions.rs`), written after both.

use super::entities::{self, Changes};
use super::outcome::settle_insert;
use super::room_sessions;
use super::MongoSink;
use crate::model::{ItemKind, SharedItem};
use crate::sinks::BatchReport;
use bson::{doc, Document, RawDocumentBuf};
use mongodb::error::{
    Error, ErrorKind, TRANSIENT_TRANSACTION_ERROR, UNKNOWN_TRANSACTION_COMMIT_RESULT,
};
use mongodb::Database;

/// Transaction attempts per batch (a transient error, a duplicate found on insert).
const ATTEMPTS: usize = 4;
/// Codes of a server that does not do transactions: IllegalOperation (a standalone
/// mongod), NotImplemented (FerretDB), OperationNotSupportedInTransaction.
const NO_TRANSACTIONS: [i32; 3] = [20, 238, 263];

/// Whether the server is a replica-set member or a mongos, where transactions exist.
pub async fn has_transactions(database: &Database) -> bool {
    match database
        .client()
        .database("admin")
        .run_command(doc! {"hello": 1})
        .await
    {
        Ok(hello) => hello.get_str("setName").is_ok() || hello.get_str("msg") == Ok("isdbgrid"),
        Err(_) => false,
    }
}

/// An event stored now or before, and whether it was a duplicate.
type Settled<'a> = (usize, &'a SharedItem, bool);

impl MongoSink {
    /// Stores events and applies their `active_entities` changes.
    pub(super) async fn send_events(
        &mut self,
        items: &[(usize, &SharedItem)],
        report: &mut BatchReport,
    ) {
        if self.transactions {
            match self.events_in_transaction(items, report).await {
                Ok(()) => return,
                Err(err) => {
                    tracing::warn!(error = %err, "the MongoDB server refuses transactions; \
                        writing events and active_entities without one from now on");
                    self.transactions = false;
                }
            }
        }
        let settled = self.insert_kind(ItemKind::Event, items, report).await;
        let changes = changes_of(&settled);
        if !changes.is_empty() {
            let applied = async {
                let added = entities::apply(&self.database, &changes, &mut None).await?;
                entities::recheck(&self.database, &added, &changes).await
            };
            if let Err(err) = applied.await {
                retry_changed(&settled, report, &err);
            }
        }
        self.summarize(&settled, report).await;
    }

    /// The `room_sessions` summaries of the events in `settled`; when that fails, the
    /// events are sent again (they come back as duplicates and complete it).
    async fn summarize(&self, settled: &[Settled<'_>], report: &mut BatchReport) {
        let events: Vec<&SharedItem> = settled.iter().map(|(_, item, _)| *item).collect();
        if let Err(err) = room_sessions::apply_events(&self.database, &events).await {
            room_sessions::send_again(settled, report, &err);
        }
    }

    /// The events and their changes in one transaction, retried on transient errors and
    /// without the duplicates an attempt found. `Err`: the server does not do
    /// transactions (nothing was written; the caller writes without one).
    async fn events_in_transaction(
        &self,
        items: &[(usize, &SharedItem)],
        report: &mut BatchReport,
    ) -> Result<(), Error> {
        let (docs, sent) = Self::documents(ItemKind::Event, items, report);
        let mut pending: Vec<(RawDocumentBuf, (usize, &SharedItem))> =
            docs.into_iter().zip(sent).collect();
        let mut duplicates: Vec<(usize, &SharedItem)> = Vec::new();
        let events = self.database.collection::<RawDocumentBuf>("events");
        let client = self.database.client();
        let mut last_error = None;
        for _ in 0..ATTEMPTS {
            if pending.is_empty() && duplicates.is_empty() {
                return Ok(());
            }
            let mut session = match client.start_session().await {
                Ok(session) => session,
                Err(err) => {
                    last_error = Some(err);
                    break;
                }
            };
            if let Err(err) = session.start_transaction().await {
                if refuses(&err) {
                    return Err(err);
                }
                last_error = Some(err);
                break;
            }
            // Those stored before: not inserted again (a duplicate aborts a transaction).
            let ids: Vec<&str> = pending.iter().map(|(_, (_, i))| i.id.as_str()).collect();
            let present = match events
                .distinct("_id", doc! {"_id": {"$in": ids}})
                .session(&mut session)
                .await
            {
                Ok(present) => present,
                Err(err) if refuses(&err) => return Err(err),
                Err(err) => {
                    let _ = session.abort_transaction().await;
                    last_error = Some(err);
                    continue;
                }
            };
            let (old, new): (Vec<_>, Vec<_>) = pending
                .into_iter()
                .partition(|(_, (_, i))| present.iter().any(|p| p.as_str() == Some(i.id.as_str())));
            duplicates.extend(old.into_iter().map(|(_, sent)| sent));
            pending = new;
            let written = async {
                if !pending.is_empty() {
                    let docs = pending.iter().map(|(doc, _)| doc);
                    events
                        .insert_many(docs)
                        .ordered(false)
                        .session(&mut session)
                        .await?;
                }
                let settled: Vec<Settled> = pending
                    .iter()
                    .map(|(_, (p, i))| (*p, *i, false))
                    .chain(duplicates.iter().map(|(p, i)| (*p, *i, true)))
                    .collect();
                let changes = changes_of(&settled);
                let added =
                    entities::apply(&self.database, &changes, &mut Some(&mut session)).await?;
                commit(&mut session).await?;
                Ok::<_, Error>((changes, added))
            };
            match written.await {
                Ok((changes, added)) => {
                    report.duplicates += duplicates.len();
                    // Outside the transaction, which read a snapshot: an end stored by
                    // another host meanwhile wins over this batch's starts, and this batch's
                    // ends delete what another host added meanwhile.
                    let settled: Vec<Settled> = pending
                        .iter()
                        .map(|(_, (p, i))| (*p, *i, false))
                        .chain(duplicates.iter().map(|(p, i)| (*p, *i, true)))
                        .collect();
                    if let Err(err) = self.after_commit(&changes, &added).await {
                        retry_changed(&settled, report, &err);
                    }
                    self.summarize(&settled, report).await;
                    return Ok(());
                }
                Err(err) if refuses(&err) => return Err(err),
                Err(err) => {
                    let _ = session.abort_transaction().await;
                    // A write error on insert: the duplicates are known now, the others are
                    // sent again later; the rest is tried again at once.
                    if let ErrorKind::InsertMany(_) = *err.kind {
                        let sent: Vec<(usize, &SharedItem)> =
                            pending.iter().map(|(_, s)| *s).collect();
                        let mut probe = BatchReport::stored();
                        let settled = settle_insert("events", Some(err.clone()), &sent, &mut probe);
                        report.retry.extend(probe.retry);
                        if let Some(error) = probe.error {
                            report.error.get_or_insert(error);
                        }
                        let keep: Vec<usize> = settled.iter().map(|(p, _, _)| *p).collect();
                        let dup: Vec<usize> =
                            settled.iter().filter(|s| s.2).map(|(p, _, _)| *p).collect();
                        let (dups, rest): (Vec<_>, Vec<_>) = pending
                            .into_iter()
                            .filter(|(_, (p, _))| keep.contains(p))
                            .partition(|(_, (p, _))| dup.contains(p));
                        duplicates.extend(dups.into_iter().map(|(_, s)| s));
                        pending = rest;
                    } else if !err.contains_label(TRANSIENT_TRANSACTION_ERROR) {
                        last_error = Some(err);
                        break;
                    }
                    last_error = Some(err);
                }
            }
        }
        // Not written: everything still pending (and the duplicates, whose changes are not
        // applied) is sent again later.
        report.retry.extend(pending.iter().map(|(_, (p, _))| *p));
        report.retry.extend(duplicates.iter().map(|(p, _)| *p));
        let error =
            last_error.map_or_else(|| "transaction not committed".into(), |e| e.to_string());
        report.error = Some(format!("events transaction: {error}"));
        Ok(())
    }

    /// The changes again outside the transaction: ends deleted, starts rechecked.
    async fn after_commit(&self, changes: &Changes, added: &[String]) -> Result<(), Error> {
        if !changes.ends.is_empty() {
            let ids: Vec<&str> = changes.ends.keys().map(String::as_str).collect();
            self.database
                .collection::<Document>(entities::COLLECTION)
                .delete_many(doc! {"_id": {"$in": ids}})
                .await?;
        }
        entities::recheck(&self.database, added, changes).await
    }
}

/// Commits, again while the result is unknown.
async fn commit(session: &mut mongodb::ClientSession) -> Result<(), Error> {
    let mut tries = 0;
    loop {
        match session.commit_transaction().await {
            Err(err) if err.contains_label(UNKNOWN_TRANSACTION_COMMIT_RESULT) && tries < 2 => {
                tries += 1;
            }
            other => return other,
        }
    }
}

/// Whether `err` says the server has no transactions.
fn refuses(err: &Error) -> bool {
    matches!(&*err.kind, ErrorKind::Command(c) if NO_TRANSACTIONS.contains(&c.code))
}

/// The `active_entities` changes of the events in `settled`.
fn changes_of(settled: &[Settled]) -> Changes {
    let mut changes = Changes::default();
    for (_, item, _) in settled {
        if let Some(change) = entities::change_of(&item.type_name, item.document_text()) {
            changes.add(change);
        }
    }
    changes
}

/// The changes failed: the events that carry one are sent again (they come back as
/// duplicates, and their changes are applied then).
fn retry_changed(settled: &[Settled], report: &mut BatchReport, err: &Error) {
    for (position, item, duplicate) in settled {
        if entities::change_of(&item.type_name, item.document_text()).is_some() {
            report.retry.push(*position);
            report.duplicates -= usize::from(*duplicate);
        }
    }
    report.error = Some(format!("active_entities: {err}"));
}

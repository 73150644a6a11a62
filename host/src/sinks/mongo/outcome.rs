//! What the server's answer to an insert means for each document sent: stored now, stored
//! before (a duplicate `_id`), refused for good (dropped alone, named), or to be sent again;
//! and what an error of the sink's first command means (fatal settings, or an outage).

use crate::model::SharedItem;
use crate::sinks::{BatchReport, SinkError};
use mongodb::error::{ErrorKind, WriteFailure};

/// MongoDB's duplicate-key error code.
pub const DUPLICATE_KEY: i32 = 11000;
/// The largest document MongoDB stores (`maxBsonObjectSize`); the driver refuses a whole
/// insert that holds a larger one, so the sink refuses that document alone.
pub const MAX_DOCUMENT_BYTES: usize = 16 * 1024 * 1024;
/// Write error codes that refuse one document for good (sending it again cannot help):
/// BadValue (FerretDB: a key with `.` or a leading `$`), DollarPrefixedFieldName,
/// InvalidDBRef, EmptyFieldName, DottedFieldName, DocumentValidationFailure,
/// BSONObjectTooLarge, KeyTooLong, and a document grown too large.
const REFUSED_DOCUMENT: [i32; 9] = [2, 52, 55, 56, 57, 121, 10334, 17280, 17419];
/// Codes with which a server says the sink's settings cannot work (not worth retrying
/// until a reload changes them): Unauthorized, AuthenticationFailed, InvalidNamespace.
const FATAL: [i32; 3] = [13, 18, 73];

/// PostgreSQL's `untranslatable_character`, in the message FerretDB's PostgreSQL backend
/// answers (1 InternalError, for the whole insert) for a string with U+0000, which `jsonb`
/// cannot hold; the documents before it are stored, those after it not tried.
const NUL_IN_STRING_SQLSTATE: &str = "SQLSTATE 22P05";

/// Whether `value` holds U+0000 in a string or a key.
fn holds_nul(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(s) => s.contains('\0'),
        serde_json::Value::Array(values) => values.iter().any(holds_nul),
        serde_json::Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        _ => false,
    }
}

/// For an insert the server failed whole because a string held U+0000 (see
/// [`NUL_IN_STRING_SQLSTATE`]): the indexes of the documents sent that hold one. Empty for
/// any other error (or if none does), which leaves every document to be sent again.
fn refused_for_nul(err: &mongodb::error::Error, sent: &[(usize, &SharedItem)]) -> Vec<usize> {
    let ErrorKind::Command(ref command) = *err.kind else {
        return Vec::new();
    };
    if command.code != 1 || !command.message.contains(NUL_IN_STRING_SQLSTATE) {
        return Vec::new();
    }
    sent.iter()
        .enumerate()
        .filter(|(_, (_, item))| {
            item.document()
                .iter()
                .any(|(k, v)| k.contains('\0') || holds_nul(v))
        })
        .map(|(n, _)| n)
        .collect()
}

/// The name of a [`REFUSED_DOCUMENT`] code, for servers whose write errors carry none
/// (FerretDB).
fn code_name(code: i32) -> &'static str {
    match code {
        2 => "BadValue",
        52 => "DollarPrefixedFieldName",
        55 => "InvalidDBRef",
        56 => "EmptyFieldName",
        57 => "DottedFieldName",
        121 => "DocumentValidationFailure",
        10334 => "BSONObjectTooLarge",
        17280 => "KeyTooLong",
        _ => "error",
    }
}

/// What became of one document sent.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fate {
    Stored,
    Duplicate,
    Refused,
    Retry,
}

/// What an unordered insert of `sent` into `collection` did (`err`: its error, if any): the
/// items stored now or before (each with whether it was a duplicate); the others are put in
/// `report` (to retry, or rejected for good).
pub fn settle_insert<'a>(
    collection: &str,
    err: Option<mongodb::error::Error>,
    sent: &[(usize, &'a SharedItem)],
    report: &mut BatchReport,
) -> Vec<(usize, &'a SharedItem, bool)> {
    let Some(err) = err else {
        return sent.iter().map(|&(p, i)| (p, i, false)).collect();
    };
    let mut fate = vec![Fate::Stored; sent.len()];
    match *err.kind {
        ErrorKind::InsertMany(ref failure) => {
            for write_error in failure.write_errors.iter().flatten() {
                let Some(&(_, item)) = sent.get(write_error.index) else {
                    continue;
                };
                fate[write_error.index] = if write_error.code == DUPLICATE_KEY {
                    Fate::Duplicate
                } else if REFUSED_DOCUMENT.contains(&write_error.code) {
                    let why = format!(
                        "{} ({}): {}",
                        write_error
                            .code_name
                            .as_deref()
                            .unwrap_or_else(|| code_name(write_error.code)),
                        write_error.code,
                        write_error.message
                    );
                    refuse(report, collection, &item.id, &why);
                    Fate::Refused
                } else {
                    report.error.get_or_insert_with(|| {
                        format!("write error {}: {}", write_error.code, write_error.message)
                    });
                    Fate::Retry
                };
            }
            if let Some(concern) = &failure.write_concern_error {
                // Inserted but not acknowledged as asked: send again; duplicates are harmless.
                for f in fate.iter_mut().filter(|f| **f != Fate::Refused) {
                    *f = Fate::Retry;
                }
                report.error = Some(format!(
                    "write concern error {}: {}",
                    concern.code, concern.message
                ));
            }
        }
        ErrorKind::Write(WriteFailure::WriteError(ref write_error))
            if write_error.code == DUPLICATE_KEY =>
        {
            fate.iter_mut().for_each(|f| *f = Fate::Duplicate);
        }
        _ => {
            // Nothing is known of what was written: send all again; what was written
            // comes back as duplicates. A document the server can never store (a string
            // with U+0000 on a PostgreSQL backend) is refused alone, named.
            fate.iter_mut().for_each(|f| *f = Fate::Retry);
            for n in refused_for_nul(&err, sent) {
                let why = format!("a string with U+0000, which the server cannot store: {err}");
                refuse(report, collection, &sent[n].1.id, &why);
                fate[n] = Fate::Refused;
            }
            report.error.get_or_insert_with(|| err.to_string());
        }
    }
    let mut settled = Vec::with_capacity(sent.len());
    for (n, &(position, item)) in sent.iter().enumerate() {
        match fate[n] {
            Fate::Retry => report.retry.push(position),
            Fate::Refused => {}
            Fate::Duplicate => {
                report.duplicates += 1;
                settled.push((position, item, true));
            }
            Fate::Stored => settled.push((position, item, false)),
        }
    }
    settled
}

/// Records a document refused for good (dropped, counted as rejected), naming it.
pub fn refuse(report: &mut BatchReport, collection: &str, id: &str, why: &str) {
    let error = format!("{collection}: document {id} refused for good: {why}");
    tracing::error!(sink = "mongo", collection, id, error = %why, "a document was refused for good; dropped");
    report.rejected += 1;
    report.error.get_or_insert(error);
}

/// An error of the first command: fatal (the sink gives up until a reload) when the server
/// refused the credentials or the database name, else the store is unavailable for now.
pub fn classify(database: &str, err: &mongodb::error::Error) -> SinkError {
    let code = match err.kind.as_ref() {
        ErrorKind::Authentication { .. } | ErrorKind::InvalidArgument { .. } => Some(18),
        ErrorKind::Command(command) => Some(command.code),
        _ => None,
    };
    match code {
        Some(code) if FATAL.contains(&code) => SinkError::Misconfigured(format!(
            "the server refused the database `{database}` or the credentials of mongo_url: {err}"
        )),
        _ => SinkError::Unavailable(format!("database `{database}`: {err}")),
    }
}

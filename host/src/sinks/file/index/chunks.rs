//! The stats of the index as *chunks*: one `stat_chunks` row per transaction and room,
//! holding that room's stats of the transaction packed in a blob, instead of a row per
//! stat. A row per stat is a B-tree insert clustered by room, ≥ 1.6 µs each in SQLite
//! here; a stat packed into its room's chunk is a few dozen bytes appended to a buffer
//! (`cargo bench --bench index_rows`). The reads fold a room's chunks in Rust, as they
//! folded its rows: a stat stored twice (the same id, from a retry or the spool) is counted
//! once, as the table's primary key kept it once. A chunk expires with the last of its
//! stats (received within moments of each other).
//!
//! A chunk's blob: a format byte (1), then per stat the id, `ts` (f64), participant, track,
//! kind and MIME type, a byte of which metrics follow, and those metrics (f64 each), in the
//! order of [`StatRow`]; texts are a varint length and their UTF-8 bytes, numbers
//! little-endian.

use crate::api::quality::StatRow;
use prost::encoding::{decode_varint, encode_varint};
use rusqlite::{params, Transaction};
use std::collections::{HashMap, HashSet};

/// The chunks table (schema version 3).
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS stat_chunks (
    room_sid TEXT NOT NULL,
    first_ts REAL NOT NULL,
    expire_at REAL NOT NULL,
    stats INTEGER NOT NULL,
    rows BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS stat_chunks_room ON stat_chunks (room_sid, first_ts);
CREATE INDEX IF NOT EXISTS stat_chunks_expire ON stat_chunks (expire_at);
";

/// The blob's format byte.
const FORMAT: u8 = 1;
/// A room's stats of one transaction go into chunks of at most this many.
pub const CHUNK_STATS: usize = 50_000;

/// One stat as a chunk holds it, its texts borrowed from the blob.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkStat<'a> {
    /// The document id.
    pub id: &'a str,
    /// `time_stamp`, seconds since the epoch.
    pub ts: f64,
    /// `[participant_sid, track_sid, kind, mime]`.
    pub texts: [&'a str; 4],
    /// `[score, min_score, packet_loss, jitter, rtt, bitrate]`.
    pub metrics: [Option<f64>; 6],
}

/// One room's chunk being filled.
struct Chunk {
    first_ts: f64,
    expire_at: f64,
    stats: usize,
    bytes: Vec<u8>,
}

fn push_text(out: &mut Vec<u8>, text: &str) {
    encode_varint(text.len() as u64, out);
    out.extend_from_slice(text.as_bytes());
}

/// The chunks of one transaction, by room.
#[derive(Default)]
pub struct ChunkWriter {
    rooms: HashMap<String, Chunk>,
}

impl ChunkWriter {
    /// Adds the stat `id` of row `r` expiring at `expire_at`; writes its room's chunk first
    /// if that is full.
    pub fn add<S: AsRef<str>>(
        &mut self,
        tx: &Transaction,
        id: &str,
        r: &StatRow<S>,
        expire_at: f64,
    ) -> rusqlite::Result<()> {
        let room = r.room_sid.as_ref();
        if !self.rooms.contains_key(room) {
            let chunk = Chunk {
                first_ts: r.ts,
                expire_at,
                stats: 0,
                bytes: vec![FORMAT],
            };
            self.rooms.insert(room.to_string(), chunk);
        }
        let chunk = self.rooms.get_mut(room).expect("inserted above");
        chunk.first_ts = chunk.first_ts.min(r.ts);
        chunk.expire_at = chunk.expire_at.max(expire_at);
        chunk.stats += 1;
        let out = &mut chunk.bytes;
        push_text(out, id);
        out.extend_from_slice(&r.ts.to_le_bytes());
        for text in [&r.participant_sid, &r.track_sid, &r.kind, &r.mime] {
            push_text(out, text.as_ref());
        }
        let metrics = [
            r.score,
            r.min_score,
            r.packet_loss,
            r.jitter,
            r.rtt,
            r.bitrate,
        ];
        let present = metrics
            .iter()
            .enumerate()
            .fold(0u8, |bits, (i, m)| bits | (u8::from(m.is_some()) << i));
        out.push(present);
        for value in metrics.into_iter().flatten() {
            out.extend_from_slice(&value.to_le_bytes());
        }
        if chunk.stats >= CHUNK_STATS {
            let full = self.rooms.remove(room).expect("the chunk just filled");
            write(tx, room, &full)?;
        }
        Ok(())
    }

    /// Writes the chunks, one row per room.
    pub fn write(&mut self, tx: &Transaction) -> rusqlite::Result<()> {
        for (room, chunk) in self.rooms.drain() {
            write(tx, &room, &chunk)?;
        }
        Ok(())
    }
}

fn write(tx: &Transaction, room: &str, chunk: &Chunk) -> rusqlite::Result<()> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO stat_chunks (room_sid, first_ts, expire_at, stats, rows) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    insert.execute(params![
        room,
        chunk.first_ts,
        chunk.expire_at,
        chunk.stats as i64,
        chunk.bytes
    ])?;
    Ok(())
}

/// A blob that does not hold what this module writes.
#[derive(Debug, thiserror::Error)]
#[error("a stats chunk of the query index cannot be read ({0}); move index.sqlite away and the host starts a new one")]
pub struct ChunkError(&'static str);

/// Calls `each` with every stat of room `sid` once (a second copy of an id is skipped), in
/// the order they were written.
pub fn room_stats(
    conn: &rusqlite::Connection,
    sid: &str,
    mut each: impl FnMut(&ChunkStat<'_>),
) -> rusqlite::Result<()> {
    let mut statement =
        conn.prepare_cached("SELECT rows FROM stat_chunks WHERE room_sid = ?1 ORDER BY first_ts")?;
    let mut rows = statement.query(params![sid])?;
    // The ids seen: an MD5 in hex (every id the host writes) as its 16 bytes, else as text.
    let (mut md5s, mut others) = (HashSet::new(), HashSet::new());
    while let Some(row) = rows.next()? {
        let unreadable = |e: ChunkError| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Blob, Box::new(e))
        };
        for stat in stats(row.get_ref(0)?.as_blob()?).map_err(unreadable)? {
            let stat = stat.map_err(unreadable)?;
            let lower_hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
            let first = if stat.id.len() == 32 && stat.id.bytes().all(lower_hex) {
                md5s.insert(u128::from_str_radix(stat.id, 16).expect("32 hex digits"))
            } else {
                others.insert(stat.id.to_string())
            };
            if first {
                each(&stat);
            }
        }
    }
    Ok(())
}

/// Reads a chunk's stats, in the order they were written, one at a time (a chunk may hold
/// tens of thousands).
pub fn stats(blob: &[u8]) -> Result<ChunkStats<'_>, ChunkError> {
    match blob.split_first() {
        Some((&FORMAT, rest)) => Ok(ChunkStats { rest }),
        Some(_) => Err(ChunkError("unknown format")),
        None => Err(ChunkError("empty")),
    }
}

/// The stats of a chunk, read one at a time ([`stats`]).
pub struct ChunkStats<'a> {
    rest: &'a [u8],
}

impl<'a> ChunkStats<'a> {
    fn read(&mut self) -> Result<ChunkStat<'a>, ChunkError> {
        let rest = &mut self.rest;
        let id = text(rest)?;
        let ts = number(rest)?;
        let texts = [text(rest)?, text(rest)?, text(rest)?, text(rest)?];
        let (&present, after) = rest.split_first().ok_or(ChunkError("truncated"))?;
        *rest = after;
        let mut metrics = [None; 6];
        for (i, metric) in metrics.iter_mut().enumerate() {
            if present & (1 << i) != 0 {
                *metric = Some(number(rest)?);
            }
        }
        Ok(ChunkStat {
            id,
            ts,
            texts,
            metrics,
        })
    }
}

impl<'a> Iterator for ChunkStats<'a> {
    type Item = Result<ChunkStat<'a>, ChunkError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let read = self.read();
        if read.is_err() {
            self.rest = &[]; // nothing after a broken stat can be read
        }
        Some(read)
    }
}

fn text<'a>(rest: &mut &'a [u8]) -> Result<&'a str, ChunkError> {
    let len = decode_varint(rest).map_err(|_| ChunkError("bad length"))? as usize;
    if rest.len() < len {
        return Err(ChunkError("truncated"));
    }
    let (bytes, after) = rest.split_at(len);
    *rest = after;
    std::str::from_utf8(bytes).map_err(|_| ChunkError("text not UTF-8"))
}

fn number(rest: &mut &[u8]) -> Result<f64, ChunkError> {
    let Some((bytes, after)) = rest.split_first_chunk::<8>() else {
        return Err(ChunkError("truncated"));
    };
    *rest = after;
    Ok(f64::from_le_bytes(*bytes))
}

/// Moves the rows of a version 2 index's `stats` table into chunks (a chunk per room and
/// minute of expiry, so each stat still goes within a minute of its expiry) and drops the
/// table.
pub fn from_stats_table(tx: &Transaction) -> rusqlite::Result<()> {
    let mut chunks = ChunkWriter::default();
    {
        let mut statement = tx.prepare(
            "SELECT id, ts, room_sid, participant_sid, track_sid, kind, mime, score, min_score, \
             packet_loss, jitter, rtt, bitrate, expire_at FROM stats ORDER BY room_sid, expire_at",
        )?;
        let mut rows = statement.query([])?;
        let mut current: Option<(String, i64)> = None;
        while let Some(r) = rows.next()? {
            let id: String = r.get(0)?;
            let row = StatRow {
                ts: r.get(1)?,
                room_sid: r.get::<_, String>(2)?,
                participant_sid: r.get(3)?,
                track_sid: r.get(4)?,
                kind: r.get(5)?,
                mime: r.get(6)?,
                score: r.get(7)?,
                min_score: r.get(8)?,
                packet_loss: r.get(9)?,
                jitter: r.get(10)?,
                rtt: r.get(11)?,
                bitrate: r.get(12)?,
            };
            let expire_at: f64 = r.get(13)?;
            let key = (row.room_sid.clone(), (expire_at / 60.0).floor() as i64);
            if current.as_ref() != Some(&key) {
                chunks.write(tx)?;
                current = Some(key);
            }
            chunks.add(tx, &id, &row, expire_at)?;
        }
    }
    chunks.write(tx)?;
    tx.execute_batch("DROP TABLE stats;")
}

/// Deletes the chunks past their expiry.
pub fn prune(tx: &Transaction, now: f64) -> rusqlite::Result<()> {
    tx.execute("DELETE FROM stat_chunks WHERE expire_at < ?1", params![now])?;
    Ok(())
}

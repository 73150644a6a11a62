//! Call quality from stats: one [`StatRow`] per stored `AnalyticsStat` (its score and what its
//! streams say of loss, jitter, round trip and bitrate), folded into series per participant
//! and track, a point per time bucket (`GET /api/rooms/{sid}/quality`), and into a room's
//! worst and mean score (`GET /api/rooms`). Reads either document format, so every backend
//! gives the same answer.

mod fold;

use crate::model::quality::{StreamFold, StreamNumbers};
pub use fold::{
    buckets, series, Accumulator, Bucket, Column, Folder, QualitySeries, SeriesBuckets, Spread,
};
use serde::Deserialize;
use serde_json::Value;
use std::borrow::Cow;

/// One stored stat as the API reads it. A metric the stat does not carry is `None`. Its
/// strings are owned, or borrowed from an item ([`StatRow::from_item`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatRow<S = String> {
    /// `time_stamp`, seconds since the Unix epoch with the fraction.
    pub ts: f64,
    /// `room_id`.
    pub room_sid: S,
    /// `participant_id`.
    pub participant_sid: S,
    /// `track_id`.
    pub track_sid: S,
    /// `kind`: `UPSTREAM` (what the participant sent) or `DOWNSTREAM` (what it received).
    pub kind: S,
    /// `mime`.
    pub mime: S,
    /// `score` (1 to 5); a zero score is "not scored" and left out.
    pub score: Option<f64>,
    /// `min_score`, else `score`.
    pub min_score: Option<f64>,
    /// Packets lost, as a percentage of the packets the streams sent or should have.
    pub packet_loss: Option<f64>,
    /// The largest `jitter` of the streams.
    pub jitter: Option<f64>,
    /// The largest `rtt` of the streams.
    pub rtt: Option<f64>,
    /// `primary_bytes` of the streams, in bits per second over each stream's interval.
    pub bitrate: Option<f64>,
}

/// The fields of a stat document the row is made from (either format: serde reads an
/// integer as well as a double into `f64`).
#[derive(Debug, Default, Deserialize)]
struct StatFields {
    #[serde(default)]
    time_stamp: Stamp,
    #[serde(default)]
    room_id: String,
    #[serde(default)]
    participant_id: String,
    #[serde(default)]
    track_id: String,
    #[serde(default)]
    kind: Option<Value>,
    #[serde(default)]
    mime: String,
    #[serde(default)]
    score: f64,
    #[serde(default)]
    min_score: f64,
    #[serde(default)]
    streams: Vec<StreamFields>,
}

#[derive(Debug, Default, Deserialize)]
struct Stamp {
    #[serde(default)]
    seconds: f64,
    #[serde(default)]
    nanos: f64,
}

#[derive(Debug, Default, Deserialize)]
struct StreamFields {
    #[serde(default)]
    primary_packets: f64,
    #[serde(default)]
    primary_bytes: f64,
    #[serde(default)]
    packets_lost: f64,
    #[serde(default)]
    jitter: f64,
    #[serde(default)]
    rtt: f64,
    #[serde(default)]
    start_time: Stamp,
    #[serde(default)]
    end_time: Stamp,
}

impl StatRow {
    /// The row of a stat document's JSON text (an item's `document_text`), if it parses.
    pub fn from_text(text: &str) -> Option<StatRow> {
        serde_json::from_str::<StatFields>(text)
            .ok()
            .map(StatRow::from_fields)
    }

    /// The row of a stat item: from the figures the gRPC door read off the wire when it has
    /// them (the same row, see `model::quality`; its strings borrowed from the item), else
    /// from its document text.
    pub fn from_item(item: &crate::model::Item) -> Option<StatRow<Cow<'_, str>>> {
        let Some(q) = &item.quality else {
            return StatRow::from_text(item.document_text()).map(StatRow::into_cow);
        };
        Some(StatRow {
            ts: item.timestamp.seconds as f64 + f64::from(item.timestamp.nanos) / 1e9,
            room_sid: Cow::Borrowed(&item.room_id),
            participant_sid: Cow::Borrowed(&item.participant_id),
            track_sid: Cow::Borrowed(&item.track_id),
            kind: Cow::Borrowed(&item.type_name),
            mime: Cow::Borrowed(&q.mime),
            score: q.score(),
            min_score: q.min_score(),
            packet_loss: q.streams.packet_loss,
            jitter: q.streams.jitter,
            rtt: q.streams.rtt,
            bitrate: q.streams.bitrate,
        })
    }

    /// The same row with its strings as [`Cow::Owned`].
    pub fn into_cow<'a>(self) -> StatRow<Cow<'a, str>> {
        StatRow {
            ts: self.ts,
            room_sid: Cow::Owned(self.room_sid),
            participant_sid: Cow::Owned(self.participant_sid),
            track_sid: Cow::Owned(self.track_sid),
            kind: Cow::Owned(self.kind),
            mime: Cow::Owned(self.mime),
            score: self.score,
            min_score: self.min_score,
            packet_loss: self.packet_loss,
            jitter: self.jitter,
            rtt: self.rtt,
            bitrate: self.bitrate,
        }
    }

    /// The row of a stored stat document (Relaxed Extended JSON, as MongoDB gives it).
    pub fn from_document(document: Value) -> Option<StatRow> {
        serde_json::from_value::<StatFields>(document)
            .ok()
            .map(StatRow::from_fields)
    }

    fn from_fields(f: StatFields) -> StatRow {
        let positive = |v: f64| (v > 0.0).then_some(v);
        let score = positive(f.score);
        let mut streams = StreamFold::default();
        for s in &f.streams {
            streams.add(&StreamNumbers {
                primary_packets: s.primary_packets,
                primary_bytes: s.primary_bytes,
                packets_lost: s.packets_lost,
                jitter: s.jitter,
                rtt: s.rtt,
                seconds: s.end_time.seconds + s.end_time.nanos / 1e9
                    - (s.start_time.seconds + s.start_time.nanos / 1e9),
            });
        }
        let streams = streams.figures();
        let kind = match &f.kind {
            Some(Value::String(name)) => name.clone(),
            Some(Value::Number(n)) if n.as_f64() == Some(1.0) => "DOWNSTREAM".to_string(),
            // The `openvidu` format leaves the zero enum out.
            _ => "UPSTREAM".to_string(),
        };
        StatRow {
            ts: f.time_stamp.seconds + f.time_stamp.nanos / 1e9,
            room_sid: f.room_id,
            participant_sid: f.participant_id,
            track_sid: f.track_id,
            kind,
            mime: f.mime,
            score,
            min_score: positive(f.min_score).or(score),
            packet_loss: streams.packet_loss,
            jitter: streams.jitter,
            rtt: streams.rtt,
            bitrate: streams.bitrate,
        }
    }
}

pub(crate) use crate::model::quality::round;

/// A room's scores: the worst (`min_score`) and the mean `score` of its stats.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RoomScore {
    /// The lowest `min_score` (else `score`).
    pub worst: Option<f64>,
    /// The mean `score`.
    pub mean: Option<f64>,
}

impl RoomScore {
    /// From a backend's aggregate: the minimum, and a sum and count for the mean.
    pub fn of(worst: Option<f64>, sum: f64, count: u64) -> RoomScore {
        RoomScore {
            worst,
            mean: (count > 0).then(|| (sum / count as f64 * 1000.0).round() / 1000.0),
        }
    }
}

#[cfg(test)]
mod tests;

//! A stat's call-quality figures read off the wire as the gRPC door receives it, so the
//! file store's query index need not parse the document text back (≈ 1 µs per stat, a
//! fifth of the index thread). The streams are folded by [`StreamFold`], which the read
//! API's document path (`api::quality::StatRow`) uses too; the scores are converted as the
//! document writes them. A property test checks that both paths give the same row for
//! random stats in both document formats. Anything unusual (a nested field with another
//! wire type, a repeated timestamp, a non-finite score, a stream type other than
//! upstream/downstream) gives `None`, and the index reads the document.

use super::walk::shortest_f64;
use super::wire::{WireReader, WireValue};
use super::wire_stat::{text, timestamp};

/// What the query index stores of a stat beyond the item's own fields.
#[derive(Debug, Clone, PartialEq)]
pub struct StatQuality {
    /// `mime`.
    pub mime: Box<str>,
    /// `score` as received (finite); see [`StatQuality::score`].
    pub score_f32: f32,
    /// `min_score` as received (finite); see [`StatQuality::min_score`].
    pub min_score_f32: f32,
    /// What its streams say.
    pub streams: StreamFigures,
}

/// What a stat's streams say. A metric no stream carries is `None`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StreamFigures {
    /// Packets lost, as a percentage of the packets the streams sent or should have.
    pub packet_loss: Option<f64>,
    /// The largest `jitter` of the streams.
    pub jitter: Option<f64>,
    /// The largest `rtt` of the streams.
    pub rtt: Option<f64>,
    /// `primary_bytes` of the streams, in bits per second over each stream's interval.
    pub bitrate: Option<f64>,
}

/// One stream's numbers, as the figures need them.
#[derive(Debug, Clone, Copy, Default)]
pub struct StreamNumbers {
    /// `primary_packets`.
    pub primary_packets: f64,
    /// `primary_bytes`.
    pub primary_bytes: f64,
    /// `packets_lost`.
    pub packets_lost: f64,
    /// `jitter`.
    pub jitter: f64,
    /// `rtt`.
    pub rtt: f64,
    /// `end_time` − `start_time`, in seconds.
    pub seconds: f64,
}

/// Streams folded into [`StreamFigures`], one at a time, in the stat's order: the one
/// definition of the figures, for the document path (the read API) and the wire path.
#[derive(Debug, Default)]
pub struct StreamFold {
    sent: f64,
    lost: f64,
    bits: Option<f64>,
    jitter: Option<f64>,
    rtt: Option<f64>,
}

impl StreamFold {
    /// Adds one stream.
    pub fn add(&mut self, s: &StreamNumbers) {
        self.sent += s.primary_packets;
        self.lost += s.packets_lost;
        self.jitter = Some(self.jitter.unwrap_or(0.0).max(s.jitter));
        self.rtt = Some(self.rtt.unwrap_or(0.0).max(s.rtt));
        if s.seconds > 0.0 {
            *self.bits.get_or_insert(0.0) += s.primary_bytes * 8.0 / s.seconds;
        }
    }

    /// The figures of the streams added.
    pub fn figures(&self) -> StreamFigures {
        let (sent, lost) = (self.sent, self.lost);
        StreamFigures {
            packet_loss: (sent + lost > 0.0).then(|| round(lost * 100.0 / (sent + lost))),
            jitter: self.jitter,
            rtt: self.rtt,
            bitrate: self.bits.map(round),
        }
    }
}

/// `value` to 6 significant decimals: what two backends compute in another order agrees.
pub fn round(value: f64) -> f64 {
    (value * 1e6).round() / 1e6
}

/// A timestamp in seconds with the fraction, as the read API computes it.
fn seconds((s, n): (i64, i32)) -> f64 {
    s as f64 + f64::from(n) / 1e9
}

/// One encoded `AnalyticsStream`; `None` for what a canonical encoder never writes.
fn stream(bytes: &[u8]) -> Option<StreamNumbers> {
    let mut s = StreamNumbers::default();
    let (mut start, mut end) = ((0, 0), (0, 0));
    let (mut starts, mut ends) = (0, 0);
    let mut reader = WireReader::new(bytes);
    while let Some((number, value)) = reader.field().ok()? {
        match (number, value) {
            (2, WireValue::Varint(n)) => s.primary_packets = f64::from(n as u32),
            (3, WireValue::Varint(n)) => s.primary_bytes = n as f64,
            (8, WireValue::Varint(n)) => s.packets_lost = f64::from(n as u32),
            (10, WireValue::Varint(n)) => s.rtt = f64::from(n as u32),
            (11, WireValue::Varint(n)) => s.jitter = f64::from(n as u32),
            (17, WireValue::Bytes(b)) => {
                starts += 1;
                start = timestamp(b)?;
            }
            (18, WireValue::Bytes(b)) => {
                ends += 1;
                end = timestamp(b)?;
            }
            (2 | 3 | 8 | 10 | 11 | 17 | 18, _) => return None,
            _ => {}
        }
    }
    s.seconds = seconds(end) - seconds(start);
    (starts <= 1 && ends <= 1).then_some(s)
}

/// A float field; `None` if the document would hold a string (`"NaN"`, `"inf"`), which
/// the index cannot read either.
fn float(bits: u32) -> Option<f32> {
    let n = f32::from_bits(bits);
    n.is_finite().then_some(n)
}

/// A float as the document writes it and serde reads it back (its shortest decimal), if
/// above zero.
fn positive(n: f32) -> Option<f64> {
    let n = shortest_f64(n);
    (n > 0.0).then_some(n)
}

impl StatQuality {
    /// `score` as the document has it, if above zero (converted here, on the index's
    /// thread, not at the door).
    pub fn score(&self) -> Option<f64> {
        positive(self.score_f32)
    }

    /// `min_score` as the document has it, if above zero, else [`StatQuality::score`].
    pub fn min_score(&self) -> Option<f64> {
        positive(self.min_score_f32).or_else(|| self.score())
    }

    /// The figures of one encoded `AnalyticsStat` of stream type `kind` (0 upstream, 1
    /// downstream), or `None` (see the module's doc).
    pub(super) fn from_wire(bytes: &[u8], kind: i32) -> Option<StatQuality> {
        if !(0..=1).contains(&kind) {
            return None;
        }
        let (mut score, mut min_score, mut mime) = (0.0, 0.0, "");
        let mut streams = StreamFold::default();
        let mut reader = WireReader::new(bytes);
        while let Some((number, value)) = reader.field().ok()? {
            match (number, value) {
                (9, WireValue::Fixed32(b)) => score = float(b)?,
                (12, WireValue::Fixed32(b)) => min_score = float(b)?,
                (11, WireValue::Bytes(b)) => mime = text(b)?,
                (10, WireValue::Bytes(b)) => streams.add(&stream(b)?),
                (9..=12, _) => return None,
                _ => {}
            }
        }
        Some(StatQuality {
            mime: mime.into(),
            score_f32: score,
            min_score_f32: min_score,
            streams: streams.figures(),
        })
    }
}

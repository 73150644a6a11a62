//! What a simulation did: counts per door and kind, latencies, rates, and the number of
//! distinct documents the host should now store ([`Summary`]); [`Tally`] collects them while
//! the senders run.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::time::Duration;

/// Items of one kind sent through one door.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Items sent (in requests or messages that were attempted).
    pub sent: u64,
    /// Items acknowledged (HTTP 2xx, gRPC OK).
    pub accepted: u64,
    /// Items refused, by answer: the HTTP status (`"401"`, `"503"`) or the gRPC code name
    /// (`"RESOURCE_EXHAUSTED"`, `"UNAUTHENTICATED"`).
    pub refused: BTreeMap<String, u64>,
    /// Items whose request got no answer (connection refused or broken, timeout).
    pub transport_errors: u64,
}

/// Acknowledgement latency of one door's requests, in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Requests measured (answered ones, whatever the answer).
    pub requests: u64,
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Slowest.
    pub max_ms: f64,
}

/// One door: counts per kind (`event`, `stat`, `node_rooms`) and latency.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DoorSummary {
    /// Counts per item kind.
    pub kinds: BTreeMap<String, Counts>,
    /// Request (webhook POST or gRPC call) acknowledgement latency.
    pub latency: Latency,
}

/// The result of [`crate::simulate::run`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Per door (`webhook`, `grpc`).
    pub doors: BTreeMap<String, DoorSummary>,
    /// From the first request to the last answer, in seconds.
    pub elapsed_seconds: f64,
    /// The offered rate in items/s (0: as fast as the host answers).
    pub offered_rate: f64,
    /// Items sent per second of `elapsed_seconds`.
    pub sent_rate: f64,
    /// Items accepted per second of `elapsed_seconds`.
    pub achieved_rate: f64,
    /// Distinct document ids among accepted items, per collection (`events`, `stats`,
    /// `node_rooms`): what the host's store should hold afterwards (on an empty store).
    pub expected_documents: BTreeMap<String, u64>,
    /// Rooms started by the scenario.
    pub rooms: u64,
    /// Participants that joined.
    pub participants: u64,
    /// Tracks published.
    pub tracks: u64,
}

impl Summary {
    /// Items sent over every door.
    pub fn sent(&self) -> u64 {
        self.all(|c| c.sent)
    }

    /// Items accepted over every door.
    pub fn accepted(&self) -> u64 {
        self.all(|c| c.accepted)
    }

    /// Items refused over every door.
    pub fn refused(&self) -> u64 {
        self.all(|c| c.refused.values().sum())
    }

    /// Items lost to transport errors over every door.
    pub fn transport_errors(&self) -> u64 {
        self.all(|c| c.transport_errors)
    }

    fn all(&self, f: impl Fn(&Counts) -> u64) -> u64 {
        self.doors
            .values()
            .flat_map(|d| d.kinds.values())
            .map(f)
            .sum()
    }

    /// A plain-text table for a terminal.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<8} {:<10} {:>10} {:>10} {:>10} {:>8}  refused by answer",
            "door", "kind", "sent", "accepted", "refused", "errors"
        );
        for (door, summary) in &self.doors {
            for (kind, c) in &summary.kinds {
                let refused: u64 = c.refused.values().sum();
                let by: Vec<String> = c.refused.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                let _ = writeln!(
                    out,
                    "{door:<8} {kind:<10} {:>10} {:>10} {refused:>10} {:>8}  {}",
                    c.sent,
                    c.accepted,
                    c.transport_errors,
                    by.join(", ")
                );
            }
        }
        let _ = writeln!(
            out,
            "{:<8} {:<10} {:>10} {:>10} {:>10} {:>8}",
            "total",
            "",
            self.sent(),
            self.accepted(),
            self.refused(),
            self.transport_errors()
        );
        let _ = writeln!(out);
        for (door, summary) in &self.doors {
            let l = &summary.latency;
            let _ = writeln!(
                out,
                "{door} ack latency: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms over {} requests",
                l.p50_ms, l.p99_ms, l.max_ms, l.requests
            );
        }
        let offered = if self.offered_rate > 0.0 {
            format!("{:.0} items/s", self.offered_rate)
        } else {
            "unlimited".into()
        };
        let _ = writeln!(
            out,
            "elapsed {:.2} s; offered {offered}; sent {:.0} items/s; accepted {:.0} items/s",
            self.elapsed_seconds, self.sent_rate, self.achieved_rate
        );
        let _ = writeln!(
            out,
            "scenario: {} rooms, {} participants, {} tracks",
            self.rooms, self.participants, self.tracks
        );
        let expected: Vec<String> = self
            .expected_documents
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        let _ = writeln!(out, "expected documents: {}", expected.join(", "));
        out
    }
}

/// What one request did, as the senders report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome<'a> {
    /// Acknowledged.
    Accepted,
    /// Answered with a refusal (HTTP status or gRPC code name).
    Refused(&'a str),
    /// No answer.
    TransportError,
}

/// Collects outcomes while the simulation runs (behind a mutex; one call per request).
#[derive(Debug, Default)]
pub struct Tally {
    doors: BTreeMap<&'static str, BTreeMap<&'static str, Counts>>,
    latencies: BTreeMap<&'static str, Vec<u32>>,
    ids: BTreeMap<&'static str, HashSet<u128>>,
}

impl Tally {
    /// Records one request of `door` carrying items of `kind` with document `ids` (hex MD5)
    /// stored in `collection`; `latency` when it was answered.
    pub fn record(
        &mut self,
        door: &'static str,
        kind: &'static str,
        collection: &'static str,
        ids: &[String],
        outcome: Outcome<'_>,
        latency: Option<Duration>,
    ) {
        let n = ids.len() as u64;
        let counts = self.doors.entry(door).or_default().entry(kind).or_default();
        counts.sent += n;
        match outcome {
            Outcome::Accepted => {
                counts.accepted += n;
                let set = self.ids.entry(collection).or_default();
                for id in ids {
                    set.insert(u128::from_str_radix(id, 16).unwrap_or_default());
                }
            }
            Outcome::Refused(answer) => *counts.refused.entry(answer.to_string()).or_default() += n,
            Outcome::TransportError => counts.transport_errors += n,
        }
        if let Some(latency) = latency {
            self.latencies
                .entry(door)
                .or_default()
                .push(latency.as_micros().min(u128::from(u32::MAX)) as u32);
        }
    }

    /// Items accepted so far, over every door.
    pub fn accepted(&self) -> u64 {
        self.doors
            .values()
            .flat_map(|k| k.values())
            .map(|c| c.accepted)
            .sum()
    }

    /// Items answered with a refusal or lost so far, over every door.
    pub fn failed(&self) -> u64 {
        self.doors
            .values()
            .flat_map(|k| k.values())
            .map(|c| c.transport_errors + c.refused.values().sum::<u64>())
            .sum()
    }

    /// The summary of what was recorded.
    pub fn summary(mut self, elapsed: Duration, offered_rate: f64) -> Summary {
        let mut summary = Summary {
            elapsed_seconds: elapsed.as_secs_f64(),
            offered_rate,
            ..Default::default()
        };
        for (door, kinds) in std::mem::take(&mut self.doors) {
            let mut latencies = self.latencies.remove(door).unwrap_or_default();
            latencies.sort_unstable();
            let pick = |q: f64| -> f64 {
                if latencies.is_empty() {
                    return 0.0;
                }
                let i = ((latencies.len() as f64 - 1.0) * q).round() as usize;
                f64::from(latencies[i]) / 1000.0
            };
            summary.doors.insert(
                door.to_string(),
                DoorSummary {
                    kinds: kinds.into_iter().map(|(k, c)| (k.to_string(), c)).collect(),
                    latency: Latency {
                        requests: latencies.len() as u64,
                        p50_ms: pick(0.5),
                        p99_ms: pick(0.99),
                        max_ms: pick(1.0),
                    },
                },
            );
        }
        for (collection, ids) in self.ids {
            summary
                .expected_documents
                .insert(collection.to_string(), ids.len() as u64);
        }
        let secs = summary.elapsed_seconds.max(1e-9);
        summary.sent_rate = summary.sent() as f64 / secs;
        summary.achieved_rate = summary.accepted() as f64 / secs;
        summary
    }
}

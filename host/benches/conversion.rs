//! What converting one item costs: the reference walkers (a `serde_json` map, then
//! serialized; BSON through a parsed map, what the host did before) against the text
//! writer and the BSON-from-text transcoder, in the same run, alternating, with the floor
//! (protobuf decode + MD5 + serializing a ready document of the same size) and the memory
//! of a queued item. Allocation through mimalloc, as in the host binary.
//!
//! Run: `cargo bench --bench conversion`. `BENCH_ITEMS` sets the items per measurement
//! (default 20000), `BENCH_ROUNDS` the rounds (default 5; the best round is printed).

// Each bench uses part of the kit; every item of it is used by some test or bench.
#[allow(dead_code)]
#[path = "../tests/kit/mod.rs"]
mod kit;

use analytics_host::model::{
    event_key, event_type_name, md5_hex, stat_key, stat_kind_name, DocumentFormat, Item,
};
use analytics_host::sinks::mongo::{to_bson_reference, to_raw_bson};
use bson::RawDocumentBuf;
use kit::items::{typical_event as event, typical_stat as stat};
use livekit_protocol as lk;
use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime};

// The host binary's allocator (see main.rs), so allocation costs what it costs there.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Items per timed chunk: the outputs of a chunk are kept until the clock stops, then
/// dropped, so memory is reused as in a running host instead of coming fresh from the
/// kernel (page clearing was 40% of the run when all 20 000 outputs were kept).
const CHUNK: usize = 1000;

/// Nanoseconds per element of `input` to turn each into an output (kept, and dropped
/// after the clock stops).
fn per_item<T, U>(input: Vec<T>, mut f: impl FnMut(T) -> U) -> f64 {
    let n = input.len();
    let mut input = input.into_iter();
    let mut out = Vec::with_capacity(CHUNK);
    let mut elapsed = Duration::ZERO;
    loop {
        let chunk: Vec<T> = input.by_ref().take(CHUNK).collect();
        if chunk.is_empty() {
            break;
        }
        let start = Instant::now();
        for x in chunk {
            out.push(f(x));
        }
        elapsed += start.elapsed();
        black_box(&out);
        out.clear();
    }
    elapsed.as_nanos() as f64 / n as f64
}

/// The best of the rounds of each row, old and new.
#[derive(Default)]
struct Row {
    old: f64,
    new: f64,
}

impl Row {
    fn keep(&mut self, old: f64, new: f64) {
        if self.old == 0.0 || old < self.old {
            self.old = old;
        }
        if self.new == 0.0 || new < self.new {
            self.new = new;
        }
    }
}

fn main() {
    let env = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (n, rounds) = (env("BENCH_ITEMS", 20_000), env("BENCH_ROUNDS", 5));
    let now = SystemTime::now();
    let exp = Duration::from_secs(3600);
    let events: Vec<_> = (0..n).map(event).collect();
    let stats: Vec<_> = (0..n).map(stat).collect();
    let formats = [DocumentFormat::Openvidu, DocumentFormat::Typed];
    let mut rows: Vec<[Row; 4]> = formats.iter().map(|_| Default::default()).collect();
    let mut floor = (f64::MAX, f64::MAX);
    for _ in 0..rounds {
        for (format, rows) in formats.iter().copied().zip(&mut rows) {
            let old = per_item(events.clone(), |e| {
                Item::from_event_reference(format, e, now, exp)
            });
            let new = per_item(events.clone(), |e| Item::from_event_as(format, e, now, exp));
            rows[0].keep(old, new);
            let old = per_item(stats.clone(), |s| {
                Item::from_stat_reference(format, s, now, exp)
            });
            let new = per_item(stats.clone(), |s| Item::from_stat_as(format, s, now, exp));
            rows[1].keep(old, new);
            let items: Vec<Item> = (0..n)
                .map(|i| match i % 2 {
                    0 => Item::from_event_as(format, event(i), now, exp),
                    _ => Item::from_stat_as(format, stat(i), now, exp),
                })
                .collect();
            let refs: Vec<&Item> = items.iter().collect();
            let old = per_item(refs.clone(), to_bson_reference);
            let new = per_item(refs.clone(), |i| to_raw_bson(i).unwrap());
            rows[2].keep(old, new);
            let old = per_item(refs.clone(), |i| {
                RawDocumentBuf::from_document(&to_bson_reference(i)).unwrap()
            });
            let new = per_item(refs, |i| to_raw_bson(i).unwrap());
            rows[3].keep(old, new);
        }
        floor.0 = floor.0.min(floor_ns(&events, |e| {
            md5_hex(&event_key(e, &event_type_name(e)))
        }));
        floor.1 = floor.1.min(floor_ns(&stats, |s| {
            md5_hex(&stat_key(s, &stat_kind_name(s)))
        }));
    }
    let parts = [
        (
            "of which: encode the event (protobuf)",
            per_item(events.iter().collect(), |e| {
                prost::Message::encode_to_vec(e)
            }),
        ),
        (
            "of which: event id (key + MD5)",
            per_item(events.iter().collect(), |e| {
                md5_hex(&event_key(e, &event_type_name(e)))
            }),
        ),
        (
            "of which: encode the stat (protobuf)",
            per_item(stats.iter().collect(), prost::Message::encode_to_vec),
        ),
        (
            "of which: stat id (key + MD5)",
            per_item(stats.iter().collect(), |s| {
                md5_hex(&stat_key(s, &stat_kind_name(s)))
            }),
        ),
    ];
    print(&rows, floor, n, rounds);
    println!();
    // The gRPC door's path: a stat as received (encoded) into its item.
    let encoded: Vec<Vec<u8>> = stats.iter().map(prost::Message::encode_to_vec).collect();
    println!("| received AnalyticsStat bytes → item, ns (best of {rounds}) | decode, then convert (before) | walked as received (now) | before / now |");
    println!("|---|---:|---:|---:|");
    for format in formats {
        let mut row = Row::default();
        for _ in 0..rounds {
            let old = per_item(encoded.iter().collect(), |b: &Vec<u8>| {
                let stat = <lk::AnalyticsStat as prost::Message>::decode(&b[..]).unwrap();
                Item::from_stat_as(format, stat, now, exp)
            });
            let new = per_item(encoded.iter().collect(), |b: &Vec<u8>| {
                Item::from_encoded_stat(format, b, "ND_bench", now, exp, true).unwrap()
            });
            row.keep(old, new);
        }
        println!(
            "| `{format:?}` | {:.0} | {:.0} | {:.2} |",
            row.old,
            row.new,
            row.old / row.new
        );
    }
    println!();
    for (name, ns) in parts {
        println!("| {name} | {ns:.0} |");
    }
    memory(now, exp);
}

/// Decoding the message, its id (key + MD5) and serializing its (ready) `openvidu`
/// document: what no conversion can avoid.
fn floor_ns<M: prost::Message + Default + Clone + 'static>(
    messages: &[M],
    id: impl Fn(&M) -> String,
) -> f64 {
    let name = if std::any::TypeId::of::<M>() == std::any::TypeId::of::<lk::AnalyticsEvent>() {
        "livekit.AnalyticsEvent"
    } else {
        "livekit.AnalyticsStat"
    };
    let prepared: Vec<(Vec<u8>, serde_json::Map<String, serde_json::Value>)> = messages
        .iter()
        .map(|m| {
            let document = DocumentFormat::Openvidu.document(m, name, &id(m));
            (m.encode_to_vec(), document)
        })
        .collect();
    let input: Vec<_> = prepared.iter().collect();
    per_item(input, |(bytes, document)| {
        let message = M::decode(&bytes[..]).unwrap();
        (id(&message), serde_json::to_string(document).unwrap())
    })
}

fn print(rows: &[[Row; 4]], floor: (f64, f64), n: usize, rounds: usize) {
    println!(
        "\nConversion, ns per item, best of {rounds} rounds of {n} (old and new alternating)\n"
    );
    println!(
        "| conversion | format | old (reference walker) | new | old / new | floor | new / floor |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|");
    let names = [
        "AnalyticsEvent → item (id + document text)",
        "AnalyticsStat → item (id + document text)",
        "item → BSON (old: `Document`; half events, half stats)",
        "item → BSON bytes as sent (old: `Document` serialized)",
    ];
    for (format, rows) in ["openvidu", "typed"].iter().zip(rows) {
        for (i, (name, row)) in names.iter().zip(rows).enumerate() {
            let floor = match i {
                0 => Some(floor.0),
                1 => Some(floor.1),
                _ => None,
            };
            println!(
                "| {name} | {format} | {:.0} | {:.0} | {:.2} | {} | {} |",
                row.old,
                row.new,
                row.old / row.new,
                floor.map_or("".into(), |f| format!("{f:.0}")),
                floor.map_or("".into(), |f| format!("{:.2}", row.new / f)),
            );
        }
    }
    println!(
        "\nfloor = protobuf decode + id (key + MD5) + serde_json serializing the ready \
         `openvidu` document"
    );
}

/// What one queued item takes (as the queues count it) and what its BSON would add.
fn memory(now: SystemTime, exp: Duration) {
    println!("\n| queued item, bytes (`openvidu`) | struct | strings | document text | queued total | BSON (not kept) |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (name, item) in [
        ("typical stat", Item::from_stat(stat(7), now, exp)),
        ("participant event", Item::from_event(event(7), now, exp)),
    ] {
        let text = item.document_text().len();
        let strukt = std::mem::size_of::<Item>();
        let total = item.queued_bytes() as usize;
        let bson = to_raw_bson(&item).unwrap().into_bytes().len();
        println!(
            "| {name} | {strukt} | {} | {text} | {total} | {bson} |",
            total - strukt - text
        );
    }
}

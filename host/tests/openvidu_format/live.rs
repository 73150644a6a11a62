//! Egress and ingress events as a real livekit-server sends them, against the documents the
//! fork's own code makes of them: `live-corpus.jsonl` holds every egress and ingress event
//! of one run of `livekit_egress.rs` (patched livekit-server v1.13.5 and the test worker),
//! captured by its tap as sent (`LKA_CAPTURE_CORPUS`); `live-expected.jsonl` the fork's
//! documents of them, from the harness (see the README beside them).

use super::{differences, golden_of};
use analytics_host::model::DocumentFormat;
use analytics_host::model::Item;
use analytics_host::sinks::mongo::to_bson;
use bson::Bson;
use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

/// Fields that livekit-server v1.13.5 sends in these events and the fork's protocol
/// (v1.26.1) does not know: the fork's decode drops them, the host keeps them
/// (docs/ingest.md). Each must be seen at least once, so the list cannot outlive the data.
const NEWER_THAN_THE_FORK: &[&str] = &[".egress.source_type"];

#[test]
fn live_egress_and_ingress_documents_are_the_forks() {
    let golden = golden_of("live-corpus.jsonl", "live-expected.jsonl");
    let types: BTreeSet<String> = golden
        .iter()
        .map(|g| g.doc.get_str("type").unwrap().to_string())
        .collect();
    // Every egress and ingress type the fork stores, from one real session.
    let want = [
        "EGRESS_STARTED",
        "EGRESS_UPDATED",
        "EGRESS_ENDED",
        "INGRESS_CREATED",
        "INGRESS_UPDATED",
        "INGRESS_STARTED",
        "INGRESS_ENDED",
        "INGRESS_DELETED",
    ];
    assert_eq!(types, want.iter().map(|t| t.to_string()).collect());

    let mut failures = Vec::new();
    let mut newer_seen = BTreeSet::new();
    for g in &golden {
        let now = SystemTime::now();
        let day = Duration::from_secs(86_400);
        let item = Item::from_encoded_event(DocumentFormat::Openvidu, &g.proto, "", now, day)
            .unwrap_or_else(|e| panic!("{}: {e}", g.name));
        assert_eq!(item.id, g.id, "{}: _id", g.name);
        let mut diffs = Vec::new();
        differences(
            "",
            &Bson::Document(to_bson(&item)),
            &Bson::Document(g.doc.clone()),
            &mut diffs,
        );
        diffs.retain(|d| {
            let newer = NEWER_THAN_THE_FORK
                .iter()
                .find(|f| d.starts_with(&format!("{f}: only ours")));
            if let Some(f) = newer {
                newer_seen.insert(*f);
            }
            newer.is_none()
        });
        if !diffs.is_empty() {
            failures.push(format!("{}:\n  {}", g.name, diffs.join("\n  ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} live documents differ from the fork's:\n{}",
        failures.len(),
        golden.len(),
        failures.join("\n")
    );
    let unseen: Vec<_> = NEWER_THAN_THE_FORK
        .iter()
        .filter(|f| !newer_seen.contains(*f))
        .collect();
    assert!(unseen.is_empty(), "listed as newer, never seen: {unseen:?}");
}

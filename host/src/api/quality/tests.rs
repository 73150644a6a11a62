use super::*;
use std::collections::BTreeMap;

fn golden(file: &str, name: &str) -> Value {
    let path = format!(
        "{}/tests/data/openvidu-format/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).expect("golden data");
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("a JSON line"))
        .find(|v| v["name"] == name)
        .map(|v| v["doc"].clone())
        .expect("the golden stat")
}

/// Canonical Extended JSON numbers (`{"$numberDouble": "4.3"}`) as plain numbers, as the
/// relaxed form MongoDB's driver gives the API has them.
fn relaxed(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(n)) = map.get("$numberDouble") {
                return serde_json::json!(n.parse::<f64>().expect("a double"));
            }
            Value::Object(map.into_iter().map(|(k, v)| (k, relaxed(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(relaxed).collect()),
        other => other,
    }
}

#[test]
fn both_formats_give_the_same_row() {
    for name in [
        "stat_upstream_kind0_video_layers_scores",
        "stat_downstream_audio_integer_scores",
        "stat_zero_scores",
    ] {
        let fork = StatRow::from_document(relaxed(golden("expected.jsonl", name))).unwrap();
        let typed = StatRow::from_document(golden("typed-expected.jsonl", name)).unwrap();
        assert_eq!(fork, typed, "{name}");
        let text = golden("typed-expected.jsonl", name).to_string();
        assert_eq!(StatRow::from_text(&text).unwrap(), typed, "{name}");
    }
}

#[test]
fn the_fork_stat_reads_as_expected() {
    let row = StatRow::from_document(relaxed(golden(
        "expected.jsonl",
        "stat_upstream_kind0_video_layers_scores",
    )))
    .unwrap();
    assert_eq!(row.kind, "UPSTREAM");
    assert_eq!(row.score, Some(4.3));
    assert_eq!(row.min_score, Some(3.9));
    assert_eq!(row.room_sid, "RM_pK8sT3mWq2Lx");
    // 3 lost of 2 700 sent + 3.
    assert_eq!(row.packet_loss, Some(round(300.0 / 2703.0)));
    assert_eq!(row.jitter, Some(7.0));
    assert_eq!(row.rtt, Some(42.0));
    // 3.1 MB over 10 s.
    assert_eq!(row.bitrate, Some(2_480_000.0));
    let zero = StatRow::from_document(relaxed(golden("expected.jsonl", "stat_zero_scores")));
    assert_eq!(zero.unwrap().score, None, "a zero score is not a score");
}

fn stat(ts: f64, participant: &str, score: f64, loss: Option<f64>) -> StatRow {
    StatRow {
        ts,
        room_sid: "RM_A".into(),
        participant_sid: participant.into(),
        track_sid: format!("TR_{participant}"),
        kind: "UPSTREAM".into(),
        mime: "video/VP8".into(),
        score: Some(score),
        min_score: Some(score - 0.5),
        packet_loss: loss,
        ..StatRow::default()
    }
}

#[test]
fn stats_fold_into_buckets_per_track() {
    let rows = vec![
        stat(1005.0, "PA_2", 4.0, None),
        stat(1001.0, "PA_1", 4.0, Some(1.0)),
        stat(1009.0, "PA_1", 3.0, Some(3.0)),
        stat(1012.0, "PA_1", 5.0, None),
    ];
    let names = BTreeMap::from([("PA_1".to_string(), "alice".to_string())]);
    let series = series(buckets(&rows, 10.0), 10.0, &names);
    assert_eq!(series.len(), 2);
    let alice = &series[0];
    assert_eq!((alice.identity.as_str(), alice.t.len()), ("alice", 2));
    assert_eq!((alice.t[0], alice.stats[0]), (1000.0, 2));
    assert_eq!(
        (alice.score.mean[0], alice.score.worst[0]),
        (Some(3.5), Some(2.5))
    );
    assert_eq!(alice.packet_loss.worst[0], Some(3.0));
    assert_eq!(alice.packet_loss.mean[0], Some(2.0));
    assert_eq!(alice.packet_loss.mean[1], None);
    assert_eq!(series[1].identity, "", "no event names PA_2");
}

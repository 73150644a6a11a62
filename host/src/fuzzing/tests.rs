//! The fuzz entry points on a few inputs each, and the inputs the fuzzers found.

use super::*;

#[test]
fn walkers_agree_with_prost_on_found_and_crafted_inputs() {
    let cases: &[&[u8]] = &[
        b"",
        &[0x3a, 0x00],             // track_id = "" (an explicit default)
        &[0x0a, 0x00],             // stat id = ""
        &[0x22, 0x00, 0x22, 0x00], // room twice
        &[0x9b, 0x06, 0x9c, 0x06], // a group in an unknown field
        &[0x9c, 0x06],             // an end group alone
        &[0x00],                   // field number 0
        &[
            0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02,
        ], // varint overflow
    ];
    for bytes in cases {
        walk::event(bytes);
        walk::stat(bytes);
        walk::node_rooms(bytes);
    }
}

#[test]
fn webhook_cases_do_not_panic() {
    let body = br#"{"event":"room_started","id":"EV_1","room":{"sid":"RM_1","name":"a"}}"#;
    webhook::body(&[&[0u8][..], body].concat());
    webhook::body(&[0u8, b'{']);
    webhook::body(&[1u8, b'{', b'}']);
    webhook::body(b"\x02Bearer a.b.c\n{}");
    webhook::body(b"");
}

#[test]
fn config_cases_do_not_panic() {
    for text in [
        "",
        "openvidu: {analytics: {interval: -1s}}",
        "keys: [",
        "a: &a [*a]",
    ] {
        config::yaml(text.as_bytes());
    }
}

#[test]
fn api_cases_answer_as_documented() {
    for data in [
        &b"\x00from=x&to=y"[..],
        b"\x00limit=-1",
        b"\x01RM_1",
        b"\x02RM_1\nbucket=0",
        b"\x03identity=a",
        b"\x0412:RM_x\n",
        b"\x05RM_1\n1e400",
    ] {
        api::request(data);
    }
}

/// Writes the seed corpus of `fuzz/corpus/` from `simulate` traffic (one small room) and
/// the repository's configuration files: run with `LKA_FUZZ_SEEDS=<fuzz/corpus>` and
/// `--ignored` (`fuzz/README.md`).
#[test]
#[ignore = "writes the fuzz seed corpus"]
fn write_seed_corpus() {
    use crate::simulate::scenario::{Scenario, Shape, Unit};
    use prost::Message as _;
    let Some(dir) = std::env::var_os("LKA_FUZZ_SEEDS") else {
        panic!("set LKA_FUZZ_SEEDS to the corpus folder");
    };
    let dir = std::path::PathBuf::from(dir);
    let write = |target: &str, name: &str, bytes: &[u8]| {
        let folder = dir.join(target);
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join(name), bytes).unwrap();
    };
    let mut scenario = Scenario::new(Shape {
        rooms: 1,
        participants: 2,
        tracks: 2,
        node_id: "ND_sim".into(),
        seed: 7,
    });
    let (mut events, mut stats, mut rooms, mut hooks) = (0, 0, 0, 0);
    for _ in 0..10_000 {
        if events >= 12 && stats >= 12 && rooms >= 4 {
            break;
        }
        match scenario.next_unit() {
            Unit::Event { event, webhook } => {
                if events < 12 {
                    write(
                        "event_walker",
                        &format!("sim-{events:02}"),
                        &event.encode_to_vec(),
                    );
                    events += 1;
                }
                if let (Some(webhook), true) = (webhook, hooks < 6) {
                    let body = serde_json::to_vec(&webhook).unwrap();
                    write(
                        "webhook",
                        &format!("sim-{hooks:02}"),
                        &[&[0u8][..], &body].concat(),
                    );
                    hooks += 1;
                }
            }
            Unit::Stat(stat) if stats < 12 => {
                write(
                    "stat_walker",
                    &format!("sim-{stats:02}"),
                    &stat.encode_to_vec(),
                );
                stats += 1;
            }
            Unit::NodeRooms(snapshot) if rooms < 4 => {
                write(
                    "node_rooms_walker",
                    &format!("sim-{rooms:02}"),
                    &snapshot.encode_to_vec(),
                );
                rooms += 1;
            }
            _ => {}
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for name in ["config.yaml", "config.local.yaml"] {
        write("config", name, &std::fs::read(root.join(name)).unwrap());
    }
    for (i, line) in [
        "\x00from=2026-11-30T08:00:00Z&to=1764500000&limit=20&name=demo",
        "\x01RM_sim",
        "\x02RM_sim\nbucket=1m",
        "\x03identity=alice&from=1764460800.5",
        "\x041764460800.25:RM_sim\nlimit=5",
        "\x05RM_sim\n10s",
    ]
    .iter()
    .enumerate()
    {
        write("api", &format!("seed-{i}"), line.as_bytes());
    }
}

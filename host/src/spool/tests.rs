use super::*;
use crate::config::SpoolFullPolicy;
use crate::model::{ItemKind, Timestamp};
use serde_json::json;
use serde_json::Value;
use std::sync::mpsc;
use std::time::SystemTime;
use std::time::UNIX_EPOCH;
use writer::Outcome;

fn item(kind: ItemKind, id: &str) -> Item {
    let document = match json!({"_id": id, "n": 1.5, "nested": {"a": [1, 2, "x"]}, "big": u64::MAX})
    {
        Value::Object(map) => map,
        _ => unreachable!(),
    };
    let mut item = Item::new(
        kind,
        id.into(),
        document,
        UNIX_EPOCH + Duration::new(1_800_000_000, 123_456_789),
    );
    item.type_name = "PARTICIPANT_JOINED".into();
    item.timestamp = Timestamp {
        seconds: 1_700_000_000,
        nanos: 42,
    };
    item.room_id = "RM_1".into();
    item.room_name = "demo".into();
    item.participant_id = "PA_1".into();
    item.participant_identity = "alice".into();
    item.track_id = "TR_1".into();
    item.node_id = "ND_1".into();
    item.score = 4.25;
    item
}

fn config(dir: &Path, max_bytes: u64, full: SpoolFullPolicy) -> SpoolConfig {
    SpoolConfig {
        dir: dir.to_path_buf(),
        max_bytes,
        full,
    }
}

fn two_sinks() -> Vec<(String, SinkScope)> {
    vec![
        (
            "a".into(),
            SinkScope::of_kinds(vec![ItemKind::Event, ItemKind::Stat]),
        ),
        ("b".into(), SinkScope::of_kinds(vec![ItemKind::Event])),
    ]
}

#[test]
fn spool_is_send_and_sync() {
    fn is<T: Send + Sync>() {}
    is::<Spool>();
}

#[test]
fn encode_decode_round_trip() {
    let original = item(ItemKind::Stat, "abc");
    let back = decode(&encode(&original)).unwrap();
    assert_eq!(back.kind, original.kind);
    assert_eq!(back.id, original.id);
    assert_eq!(back.type_name, original.type_name);
    assert_eq!(back.timestamp, original.timestamp);
    assert_eq!(back.room_id, original.room_id);
    assert_eq!(back.room_name, original.room_name);
    assert_eq!(back.participant_id, original.participant_id);
    assert_eq!(back.participant_identity, original.participant_identity);
    assert_eq!(back.track_id, original.track_id);
    assert_eq!(back.node_id, original.node_id);
    assert_eq!(back.score, original.score);
    assert_eq!(back.expire_at, original.expire_at);
    assert_eq!(back.document(), original.document());
    assert_eq!(back.json(), original.json());
    assert_eq!(back.spool_seq, None);
    for kind in ItemKind::ALL {
        assert_eq!(decode(&encode(&item(kind, "k"))).unwrap().kind, kind);
    }
    assert!(decode(b"{}").is_err());
    let mut bad: Value = serde_json::from_slice(&encode(&original)).unwrap();
    bad["v"] = json!(99);
    let err = decode(&serde_json::to_vec(&bad).unwrap()).unwrap_err();
    assert!(err.to_string().contains("version 99"), "{err}");
    let _ = SystemTime::now();
}

#[test]
fn pending_bookkeeping_and_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 1 << 30, SpoolFullPolicy::Reject);
    let (spool, recovered) = Spool::open(&cfg, two_sinks()).unwrap();
    assert!(recovered.is_empty());
    let mut items = vec![
        item(ItemKind::Event, "e1"),
        item(ItemKind::Stat, "s1"),
        item(ItemKind::Event, "e2"),
        // Stored by no sink: not spooled.
        item(ItemKind::NodeStats, "n1"),
    ];
    spool.append(&mut items).unwrap();
    let seqs: Vec<_> = items.iter().map(|i| i.spool_seq).collect();
    assert_eq!(seqs, [Some(0), Some(1), Some(2), None]);
    assert_eq!(spool.pending_for("a").unwrap(), [0, 1, 2]);
    assert_eq!(spool.pending_for("b").unwrap(), [0, 2]);
    assert_eq!(spool.size().records, 3);

    // `a` settles e1 and s1: s1 is done, e1 still waits for `b`.
    assert_eq!(spool.settle("a", &[0, 1]).unwrap(), 1);
    assert_eq!(spool.size().records, 2);
    assert_eq!(spool.settle("b", &[0]).unwrap(), 1);
    assert_eq!(spool.pending_for("a").unwrap(), [2]);
    assert_eq!(spool.pending_for("b").unwrap(), [2]);
    let bytes = spool.size().bytes;
    assert_eq!(bytes, encode(&items[2]).len() as u64);
    drop(spool);

    // Restart: e2 comes back for both sinks, with its sequence number; new ones follow it.
    let (spool, recovered) = Spool::open(&cfg, two_sinks()).unwrap();
    assert_eq!(recovered.len(), 1);
    assert_eq!(recovered[0].item.id, "e2");
    assert_eq!(recovered[0].item.spool_seq, Some(2));
    assert_eq!(recovered[0].sinks, ["a", "b"]);
    assert_eq!(spool.size().bytes, bytes);
    assert_eq!(SpoolCounters::get(&spool.counters.recovered), 1);
    let mut more = vec![item(ItemKind::Event, "e3")];
    spool.append(&mut more).unwrap();
    assert_eq!(more[0].spool_seq, Some(3));
    drop(spool);

    // Sink `b` is no longer configured: its rows are dropped, `a` still gets both.
    let only_a = vec![("a".to_string(), SinkScope::of_kinds(vec![ItemKind::Event]))];
    let (spool, recovered) = Spool::open(&cfg, only_a.clone()).unwrap();
    assert_eq!(recovered.len(), 2);
    assert!(spool.pending_for("b").unwrap().is_empty());
    spool.settle("a", &[2, 3]).unwrap();
    assert_eq!(
        spool.size(),
        SpoolSize {
            records: 0,
            bytes: 0
        }
    );
    drop(spool);
    let (_, recovered) = Spool::open(&cfg, only_a).unwrap();
    assert!(recovered.is_empty());
}

#[test]
fn full_policies() {
    let dir = tempfile::tempdir().unwrap();
    let one = encode(&item(ItemKind::Event, "e0")).len() as u64;
    let cfg = config(dir.path(), one * 2, SpoolFullPolicy::Reject);
    let (spool, _) = Spool::open(&cfg, two_sinks()).unwrap();
    spool
        .append(&mut [item(ItemKind::Event, "e0"), item(ItemKind::Event, "e1")])
        .unwrap();
    let mut third = vec![item(ItemKind::Event, "e2")];
    assert_eq!(spool.append(&mut third), Err(SpoolError::Full));
    assert_eq!(third[0].spool_seq, None);
    assert_eq!(SpoolCounters::get(&spool.counters.rejected_full), 1);
    spool.settle("a", &[0]).unwrap();
    spool.settle("b", &[0]).unwrap();
    spool.append(&mut third).unwrap();
    assert_eq!(third[0].spool_seq, Some(2));
    drop(spool);

    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), one * 2, SpoolFullPolicy::DropOldest);
    let (spool, _) = Spool::open(&cfg, two_sinks()).unwrap();
    for n in 0..5 {
        spool
            .append(&mut [item(ItemKind::Event, &format!("e{n}"))])
            .unwrap();
    }
    assert_eq!(spool.size().records, 2);
    assert_eq!(SpoolCounters::get(&spool.counters.dropped_full), 3);
    assert_eq!(spool.pending_for("a").unwrap(), [3, 4]);
    assert_eq!(spool.pending_for("b").unwrap(), [3, 4]);
}

/// An append request for `items` as `Spool::append` sends it, and where its answer arrives.
fn append_request(spool: &Spool, items: &[Item]) -> (Request, mpsc::Receiver<Outcome>) {
    let (op, _) = spool.encode_append(items).unwrap();
    let (tx, rx) = mpsc::sync_channel(1);
    let request = Request {
        op,
        reply: Reply::Blocking(tx),
    };
    (request, rx)
}

#[test]
fn a_group_refuses_only_the_request_that_overflows() {
    let dir = tempfile::tempdir().unwrap();
    let one = encode(&item(ItemKind::Event, "e0")).len() as u64;
    let cfg = config(dir.path(), one * 3, SpoolFullPolicy::Reject);
    let (spool, _) = Spool::open(&cfg, two_sinks()).unwrap();
    let events =
        |names: &[&str]| -> Vec<Item> { names.iter().map(|n| item(ItemKind::Event, n)).collect() };
    let (a, a_rx) = append_request(&spool, &events(&["e0"]));
    let (big, big_rx) = append_request(&spool, &events(&["e1", "e2", "e3"]));
    let (b, b_rx) = append_request(&spool, &events(&["e4", "e5"]));
    // One group, one transaction: `a` and `b` fit, `big` (between them) does not.
    assert_eq!(spool.core.commit_group(vec![a, big, b], false), Some(true));
    assert_eq!(a_rx.recv().unwrap(), Ok(0));
    assert_eq!(big_rx.recv().unwrap(), Err(SpoolError::Full));
    assert_eq!(
        b_rx.recv().unwrap(),
        Ok(1),
        "sequence numbers stay contiguous"
    );
    assert_eq!(spool.size().records, 3);
    assert_eq!(spool.pending_for("a").unwrap(), [0, 1, 2]);
    let c = &spool.counters;
    assert_eq!(SpoolCounters::get(&c.rejected_full), 3);
    assert_eq!(SpoolCounters::get(&c.written), 3);
    assert_eq!(SpoolCounters::get(&c.commits), 1);
    assert_eq!(SpoolCounters::get(&c.durable_commits), 1);

    // A settle earlier in the group makes room for an append later in it.
    let (full, full_rx) = append_request(&spool, &events(&["e6"]));
    let settle = |sink: &str| {
        let (tx, rx) = mpsc::sync_channel(1);
        let op = Op::Settle {
            sink: sink.to_string(),
            seqs: vec![0],
        };
        let reply = Reply::Blocking(tx);
        (Request { op, reply }, rx)
    };
    let ((settle_a, a_rx), (settle_b, b_rx)) = (settle("a"), settle("b"));
    let (after, after_rx) = append_request(&spool, &events(&["e7"]));
    let group = vec![full, settle_a, settle_b, after];
    assert_eq!(spool.core.commit_group(group, false), Some(true));
    assert_eq!(full_rx.recv().unwrap(), Err(SpoolError::Full));
    assert_eq!(a_rx.recv().unwrap(), Ok(0), "still pending for `b`");
    assert_eq!(b_rx.recv().unwrap(), Ok(1));
    assert_eq!(after_rx.recv().unwrap(), Ok(3));
    assert_eq!(spool.pending_for("a").unwrap(), [1, 2, 3]);
    drop(spool);
    let (_, recovered) = Spool::open(&cfg, two_sinks()).unwrap();
    let ids: Vec<_> = recovered.iter().map(|r| r.item.id.as_str()).collect();
    assert_eq!(ids, ["e4", "e5", "e7"]);
}

#[test]
fn concurrent_appends_share_commits_and_keep_order() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 1 << 30, SpoolFullPolicy::Reject);
    let (spool, _) = Spool::open(&cfg, two_sinks()).unwrap();
    let spool = Arc::new(spool);
    let threads: Vec<_> = (0..16)
        .map(|t| {
            let spool = spool.clone();
            std::thread::spawn(move || {
                let mut last = None;
                for k in 0..20 {
                    let mut items = [item(ItemKind::Event, &format!("t{t}-{k}"))];
                    spool.append(&mut items).unwrap();
                    let seq = items[0].spool_seq.unwrap();
                    // One caller's items keep their order.
                    assert!(last.is_none_or(|last| seq > last));
                    last = Some(seq);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let c = &spool.counters;
    assert_eq!(SpoolCounters::get(&c.written), 320);
    assert_eq!(
        spool.pending_for("b").unwrap(),
        (0..320).collect::<Vec<_>>()
    );
    assert!(SpoolCounters::get(&c.durable_commits) <= 320);
}

#[test]
fn an_append_alone_commits_on_its_callers_thread_and_a_busy_one_goes_to_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 1 << 30, SpoolFullPolicy::Reject);
    let (spool, _) = Spool::open(&cfg, two_sinks()).unwrap();
    let (op, _) = spool.encode_append(&[item(ItemKind::Event, "e0")]).unwrap();
    assert_eq!(spool.core.commit_alone(op).ok(), Some(Ok(0)), "alone: here");
    // A transaction under way: the append is given back, for the writer.
    let committing = spool.core.committing.lock().unwrap();
    let (op, _) = spool.encode_append(&[item(ItemKind::Event, "e1")]).unwrap();
    let op = spool
        .core
        .commit_alone(op)
        .expect_err("busy: to the writer");
    drop(committing);
    // Another append under way: given back too, to share the writer's group.
    let (me, other) = (
        Appending::enter(&spool.core.appending),
        Appending::enter(&spool.core.appending),
    );
    let op = spool
        .core
        .commit_alone(op)
        .expect_err("not alone: to the writer");
    drop(other);
    assert_eq!(spool.core.commit_alone(op).ok(), Some(Ok(1)));
    drop(me);
    // The async path (through the writer), alone and then from 16 tasks at once.
    let spool = Arc::new(spool);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut items = [item(ItemKind::Event, "e2")];
        spool.append_async(&mut items).await.unwrap();
        assert_eq!(items[0].spool_seq, Some(2));
        let tasks: Vec<_> = (0..16)
            .map(|t| {
                let spool = spool.clone();
                tokio::spawn(async move {
                    let mut items = [item(ItemKind::Event, &format!("t{t}"))];
                    spool.append_async(&mut items).await.unwrap();
                    items[0].spool_seq.unwrap()
                })
            })
            .collect();
        let mut seqs = Vec::new();
        for task in tasks {
            seqs.push(task.await.unwrap());
        }
        seqs.sort_unstable();
        assert_eq!(seqs, (3..19).collect::<Vec<_>>());
    });
    assert_eq!(spool.core.appending.load(Ordering::Acquire), 0);
    assert_eq!(SpoolCounters::get(&spool.counters.written), 19);
    assert_eq!(spool.pending_for("a").unwrap(), (0..19).collect::<Vec<_>>());
}

#[test]
fn settles_commit_without_fsync_and_become_durable_later() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 1 << 30, SpoolFullPolicy::Reject);
    let (spool, _) = Spool::open(&cfg, two_sinks()).unwrap();
    let mut items: Vec<Item> = (0..4)
        .map(|n| item(ItemKind::Stat, &format!("s{n}")))
        .collect();
    spool.append(&mut items).unwrap();
    let c = &spool.counters;
    assert_eq!(SpoolCounters::get(&c.durable_commits), 1);
    assert_eq!(spool.settle("a", &[0, 1]).unwrap(), 2);
    assert_eq!(SpoolCounters::get(&c.commits), 2);
    assert_eq!(
        SpoolCounters::get(&c.durable_commits),
        1,
        "no fsync for a settle"
    );
    // Visible at once, durable within the sync interval.
    assert_eq!(spool.pending_for("a").unwrap(), [2, 3]);
    std::thread::sleep(SETTLE_SYNC_INTERVAL + Duration::from_millis(500));
    assert_eq!(SpoolCounters::get(&c.durable_commits), 2);
    // Dropping the spool makes the last settles durable too.
    assert_eq!(spool.settle("a", &[2]).unwrap(), 1);
    drop(spool);
    let (_, recovered) = Spool::open(&cfg, two_sinks()).unwrap();
    assert_eq!(recovered.len(), 1);
    assert_eq!(recovered[0].item.id, "s3");
}

/// Overwrites `len` bytes of `path` at `offset` with `byte`.
fn damage(path: &Path, offset: u64, len: usize, byte: u8) {
    use std::io::{Seek, SeekFrom, Write};
    let mut file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.seek(SeekFrom::Start(offset)).unwrap();
    file.write_all(&vec![byte; len]).unwrap();
}

#[test]
fn a_damaged_spool_is_moved_aside_and_the_host_starts_on_a_fresh_one() {
    // Damage of several kinds: the header, pages in the middle, everything after the
    // header; each either panics inside redb or is reported as corrupted.
    let cases: [(&str, u64, usize, u8); 3] = [
        ("header", 0, 64, 0xAB),
        ("middle pages", 4096, 16 * 4096, 0xFF),
        ("all but the header", 512, 1 << 20, 0x00),
    ];
    for (what, offset, len, byte) in cases {
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path(), 1 << 30, SpoolFullPolicy::Reject);
        {
            let (spool, _) = Spool::open(&config, two_sinks()).unwrap();
            for i in 0..200 {
                spool
                    .append(&mut [item(ItemKind::Event, &format!("e{i}"))])
                    .unwrap();
            }
        }
        let path = dir.path().join(FILE_NAME);
        damage(&path, offset, len, byte);
        let (spool, recovered) = Spool::open(&config, two_sinks())
            .unwrap_or_else(|e| panic!("{what}: the host must start: {e:#}"));
        let damaged = spool
            .damaged()
            .unwrap_or_else(|| panic!("{what}: damage not reported"));
        assert!(recovered.is_empty(), "{what}");
        assert!(
            damaged.moved_to.exists(),
            "{what}: the damaged file is kept"
        );
        assert!(damaged
            .moved_to
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("spool.redb.damaged-"));
        assert!(!damaged.reason.is_empty());
        // The fresh spool works.
        spool.append(&mut [item(ItemKind::Event, "fresh")]).unwrap();
        assert_eq!(spool.size().records, 1, "{what}");
    }
}

#[test]
fn a_spool_that_cannot_be_opened_for_other_reasons_is_not_moved() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), 1 << 30, SpoolFullPolicy::Reject);
    let (_held, _) = Spool::open(&config, two_sinks()).unwrap();
    // The same file opened twice in one process: redb refuses; the file is fine.
    let err = Spool::open(&config, two_sinks()).unwrap_err();
    assert!(format!("{err:#}").contains("spool"), "{err:#}");
    let entries: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(entries.len(), 1, "nothing moved aside");
}

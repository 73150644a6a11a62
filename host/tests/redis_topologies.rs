//! The Redis sink on LiveKit's high-availability topologies, from real redis-server
//! processes, with `simulate` load running through both doors of a host: a primary and a
//! replica behind three sentinels (the primary killed; `SENTINEL FAILOVER`, also on TLS
//! with a private CA and with passwords; the replica killed), and a cluster of three
//! masters (one node killed and restarted; on TLS). Each time the items accepted are
//! exactly the keys found afterwards (on the new primary; spread over the cluster nodes
//! with each room on one slot).

// Each test crate uses part of the kit; every item of it is used by some test or bench.
#[allow(dead_code)]
mod kit;

use analytics_host::simulate::Summary;
use kit::host::TestHost;
use kit::load::{drained, load_with_fault, settle};
use kit::pki::Pki;
use kit::servers::redis::RedisServer;
use kit::servers::redis_ha::{wait_for, RedisCluster, SentinelAuth, SentinelSet, MASTER_NAME};
use kit::{KEY, SECRET};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};
use tokio::task::block_in_place;

/// A host in this process with the file store and the Redis sink on `redis` (LiveKit's
/// `redis:` section as a YAML flow mapping), retrying every 100–500 ms.
async fn host(redis: &str) -> TestHost {
    let dir = tempfile::tempdir().expect("temp dir");
    let yaml = format!(
        "keys:\n  {KEY}: {SECRET}\nredis: {redis}\nopenvidu:\n  analytics:\n    \
         interval: 100ms\n    retry: {{ initial_backoff: 100ms, max_backoff: 500ms }}\n    \
         queue: {{ capacity: 500000, overflow: drop_oldest }}\n    \
         file: {{ enabled: true, dir: {} }}\n    redis: {{ enabled: true, mode: plain }}\n    \
         ingest:\n      webhook: {{ listen: \"127.0.0.1:0\" }}\n      \
         grpc: {{ listen: \"127.0.0.1:0\" }}\n",
        dir.path().display()
    );
    TestHost::from_yaml(dir, &yaml).await
}

/// (event keys, stat keys) the Redis sink must hold after `summary`.
fn expected_keys(summary: &Summary) -> (u64, u64) {
    let get = |c: &str| summary.expected_documents.get(c).copied().unwrap_or(0);
    (get("events"), get("stats"))
}

/// Every key of one Redis (the kit's plain port); none while it answers with an error (a
/// replica loading its dataset answers `LOADING`).
fn all_keys(server: &RedisServer) -> Vec<String> {
    let reply = server.cmd(&["KEYS", "*"]);
    if reply.error_code().is_some() {
        eprintln!("KEYS on {}: {reply:?}", server.port());
        return Vec::new();
    }
    reply
        .as_array()
        .unwrap_or_else(|| panic!("KEYS answered {reply:?}"))
        .iter()
        .map(|k| k.as_str().expect("a key").to_string())
        .collect()
}

/// (event keys, stat keys) among `keys`; panics on any other key.
fn count_kinds(keys: &[String]) -> (u64, u64) {
    let events = keys.iter().filter(|k| k.starts_with("event:")).count() as u64;
    let stats = keys.iter().filter(|k| k.starts_with("stat:")).count() as u64;
    assert_eq!(events + stats, keys.len() as u64, "other keys: {keys:?}");
    (events, stats)
}

/// The room of a key: its hash tag.
fn room_of(key: &str) -> &str {
    let start = key.find('{').expect("a hash tag") + 1;
    let end = start + key[start..].find('}').expect("a closed hash tag");
    &key[start..end]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sentinel_failover_after_the_primary_is_killed_loses_nothing() {
    let started = Instant::now();
    let mut set = block_in_place(SentinelSet::start);
    let old_primary = set.servers[0].port();
    let redis = format!(
        "{{ sentinel_master_name: {MASTER_NAME}, sentinel_addresses: [{}] }}",
        set.addresses().join(", ")
    );
    let host = host(&redis).await;
    eprintln!("set up in {:.1?}", started.elapsed());

    let (summary, failed_over) = load_with_fault(
        &host,
        400.0,
        Duration::from_secs(10),
        Duration::from_secs(3),
        || async {
            block_in_place(|| {
                set.servers[0].kill();
                let killed = Instant::now();
                wait_for(
                    "the sentinels to promote the replica",
                    Duration::from_secs(30),
                    || {
                        set.sentinels
                            .iter()
                            .all(|s| s.master_address().as_deref() == Some(&set.address(1)))
                    },
                );
                killed.elapsed()
            })
        },
    )
    .await;
    let primary = set.master();
    assert_ne!(primary.port(), old_primary, "the replica was promoted");
    let want = expected_keys(&summary);
    let got = settle(want, Duration::from_secs(30), || {
        count_kinds(&all_keys(primary))
    })
    .await;
    eprintln!(
        "sentinel (kill): {} items accepted, keys (events, stats) {got:?} on the new primary, \
         failover took {failed_over:.1?} after the kill, test {:.1?}",
        summary.accepted(),
        started.elapsed()
    );
    assert_eq!(got, want, "{}", summary.table());
    drained(&host).await;
    host.host.shutdown().await;
}

/// `SENTINEL FAILOVER` while `simulate` runs against a host on `set` (its `redis:` section
/// `redis`): every item on the new primary, then on the old one as its replica.
async fn failover_command_loses_nothing(set: SentinelSet, redis: &str, what: &str) {
    let started = Instant::now();
    let old_primary = set.servers[0].port();
    let host = host(redis).await;
    let (summary, ()) = load_with_fault(
        &host,
        400.0,
        Duration::from_secs(10),
        Duration::from_secs(3),
        || async {
            block_in_place(|| {
                let reply = set.sentinels[0].cmd(&["SENTINEL", "FAILOVER", MASTER_NAME]);
                assert_eq!(reply.as_str(), Some("OK"), "{reply:?}");
                wait_for("the failover", Duration::from_secs(30), || {
                    set.sentinels
                        .iter()
                        .all(|s| s.master_address().as_deref() == Some(&set.address(1)))
                });
            })
        },
    )
    .await;
    let primary = set.master();
    assert_ne!(primary.port(), old_primary, "the replica was promoted");
    let want = expected_keys(&summary);
    let got = settle(want, Duration::from_secs(30), || {
        count_kinds(&all_keys(primary))
    })
    .await;
    eprintln!(
        "sentinel ({what}): {} items accepted, keys {got:?} on the new primary after {:.1?}",
        summary.accepted(),
        started.elapsed()
    );
    assert_eq!(got, want, "{}", summary.table());
    drained(&host).await;
    // The old primary, now a replica, has the same keys.
    let old = &set.servers[0];
    let replicated = settle(want, Duration::from_secs(20), || {
        count_kinds(&all_keys(old))
    })
    .await;
    assert_eq!(replicated, want, "the old primary follows the new one");
    host.host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sentinel_failover_command_under_load_loses_nothing() {
    let set = block_in_place(SentinelSet::start);
    let redis = format!(
        "{{ sentinel_master_name: {MASTER_NAME}, sentinel_addresses: [{}] }}",
        set.addresses().join(", ")
    );
    failover_command_loses_nothing(set, &redis, "SENTINEL FAILOVER").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sentinel_failover_over_tls_with_a_private_ca_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    let set = block_in_place(|| SentinelSet::start_with(Some(&pki), None));
    let redis = format!(
        "{{ sentinel_master_name: {MASTER_NAME}, sentinel_addresses: [{}], \
         tls: {{ enabled: true, ca_cert_file: '{}' }} }}",
        set.addresses().join(", "),
        pki.ca.display()
    );
    failover_command_loses_nothing(set, &redis, "SENTINEL FAILOVER, TLS").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sentinel_failover_with_passwords_loses_nothing() {
    let auth = SentinelAuth {
        redis_password: "redis-secret",
        sentinel_password: "sentinel-secret",
    };
    let set = block_in_place(|| SentinelSet::start_with(None, Some(auth)));
    let redis = format!(
        "{{ sentinel_master_name: {MASTER_NAME}, sentinel_addresses: [{}], \
         password: {}, sentinel_password: {} }}",
        set.addresses().join(", "),
        auth.redis_password,
        auth.sentinel_password
    );
    failover_command_loses_nothing(set, &redis, "SENTINEL FAILOVER, passwords").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sentinel_replica_killed_under_load_loses_nothing() {
    let started = Instant::now();
    let mut set = block_in_place(SentinelSet::start);
    let redis = format!(
        "{{ sentinel_master_name: {MASTER_NAME}, sentinel_addresses: [{}] }}",
        set.addresses().join(", ")
    );
    let host = host(&redis).await;

    // No replica acknowledges the writes any more: the batches wait until the sentinels
    // mark the replica down (1 s here), then go to the primary without a `WAIT`.
    let (summary, ()) = load_with_fault(
        &host,
        400.0,
        Duration::from_secs(8),
        Duration::from_secs(3),
        || async { block_in_place(|| set.servers[1].kill()) },
    )
    .await;
    let primary = set.master();
    assert_eq!(primary.port(), set.servers[0].port(), "no failover");
    let want = expected_keys(&summary);
    let got = settle(want, Duration::from_secs(30), || {
        count_kinds(&all_keys(primary))
    })
    .await;
    eprintln!(
        "sentinel (replica killed): {} items accepted, keys {got:?} on the primary, test {:.1?}",
        summary.accepted(),
        started.elapsed()
    );
    assert_eq!(got, want, "{}", summary.table());
    drained(&host).await;
    host.host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cluster_node_restarted_under_load_loses_nothing_and_rooms_stay_on_one_slot() {
    let started = Instant::now();
    let mut cluster = block_in_place(|| RedisCluster::start(3));
    let redis = format!(
        "{{ cluster_addresses: [{}] }}",
        cluster.addresses().join(", ")
    );
    let host = host(&redis).await;
    eprintln!("set up in {:.1?}", started.elapsed());

    let (summary, down_for) = load_with_fault(
        &host,
        400.0,
        Duration::from_secs(10),
        Duration::from_secs(3),
        || async {
            block_in_place(|| {
                let t0 = Instant::now();
                cluster.nodes[1].kill();
                std::thread::sleep(Duration::from_secs(2));
                cluster.nodes[1].restart();
                cluster.wait_ok(Duration::from_secs(30));
                t0.elapsed()
            })
        },
    )
    .await;
    let want = expected_keys(&summary);
    let per_node = || -> Vec<Vec<String>> { cluster.nodes.iter().map(all_keys).collect() };
    let got = settle(want, Duration::from_secs(30), || {
        let keys: Vec<String> = per_node().into_iter().flatten().collect();
        count_kinds(&keys)
    })
    .await;
    let nodes = block_in_place(per_node);
    let sizes: Vec<usize> = nodes.iter().map(Vec::len).collect();
    eprintln!(
        "cluster: {} items accepted, keys {got:?}, per node {sizes:?}, node down and back \
         in {down_for:.1?}, test {:.1?}",
        summary.accepted(),
        started.elapsed()
    );
    assert_eq!(got, want, "{}", summary.table());
    drained(&host).await;
    assert!(
        sizes.iter().all(|&n| n > 0),
        "keys on every node: {sizes:?}"
    );

    // Each room's keys are on one node, and on one slot.
    let mut rooms: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
    for (node, keys) in nodes.iter().enumerate() {
        for key in keys {
            rooms
                .entry(room_of(key).to_string())
                .or_default()
                .insert(node);
        }
    }
    assert!(rooms.len() >= 20, "{} rooms", rooms.len());
    for (room, on) in &rooms {
        assert_eq!(on.len(), 1, "room {room} is on nodes {on:?}");
        let node = &cluster.nodes[*on.iter().next().unwrap()];
        let slots: BTreeSet<i64> = nodes[*on.iter().next().unwrap()]
            .iter()
            .filter(|k| room_of(k) == room)
            .take(5)
            .map(|k| node.cmd(&["CLUSTER", "KEYSLOT", k]).as_int().unwrap())
            .collect();
        assert_eq!(slots.len(), 1, "room {room}: slots {slots:?}");
    }
    host.host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cluster_over_tls_with_a_private_ca_stores_every_item() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    let cluster = block_in_place(|| RedisCluster::start_with(3, Some(&pki)));
    let redis = format!(
        "{{ cluster_addresses: [{}], tls: {{ enabled: true, ca_cert_file: '{}' }} }}",
        cluster.addresses().join(", "),
        pki.ca.display()
    );
    let host = host(&redis).await;
    let (summary, ()) = load_with_fault(
        &host,
        400.0,
        Duration::from_secs(4),
        Duration::ZERO,
        || async {},
    )
    .await;
    let want = expected_keys(&summary);
    let per_node = || -> Vec<Vec<String>> { cluster.nodes.iter().map(all_keys).collect() };
    let got = settle(want, Duration::from_secs(30), || {
        count_kinds(&per_node().into_iter().flatten().collect::<Vec<_>>())
    })
    .await;
    let sizes: Vec<usize> = block_in_place(per_node).iter().map(Vec::len).collect();
    eprintln!(
        "cluster (TLS): {} items accepted, keys {got:?}, per node {sizes:?}, test {:.1?}",
        summary.accepted(),
        started.elapsed()
    );
    assert_eq!(got, want, "{}", summary.table());
    assert!(
        sizes.iter().all(|&n| n > 0),
        "keys on every node: {sizes:?}"
    );
    drained(&host).await;
    host.host.shutdown().await;
}

//! The Redis sink over TLS against a real redis-server (`--tls-port`) with throw-away
//! certificates of a private CA (`rcgen`), configured through LiveKit's `redis.tls`
//! section: items stored over TLS; a wrong CA and the system's roots (`use_tls`) each
//! refused with the cause named; `insecure` accepting any certificate; mutual TLS
//! needing the client certificate. The kit reads the keys back on the server's plain
//! loopback port; `CLIENT LIST` shows the sink's connection on the TLS port.

// Each test crate uses part of the kit; every item of it is used by some test or bench.
#[allow(dead_code)]
mod kit;

use analytics_host::config::{Config, ConfigSource};
use analytics_host::model::SharedItem;
use analytics_host::sinks::redis::{redis_key, RedisSink};
use analytics_host::sinks::{Sink, SinkError};
use kit::items::{event, stat};
use kit::pki::Pki;
use kit::ports::free_port;
use kit::servers::redis::{RedisFlavor, RedisServer};
use std::sync::Arc;

/// A redis-server with a TLS port (its certificate signed by `pki`'s CA) beside the kit's
/// plain one; `mutual`: clients must present a certificate the CA signed.
fn tls_redis(pki: &Pki, mutual: bool) -> (RedisServer, u16) {
    let tls_port = free_port();
    let args = [
        "--tls-port".to_string(),
        tls_port.to_string(),
        "--tls-cert-file".into(),
        pki.cert.display().to_string(),
        "--tls-key-file".into(),
        pki.key.display().to_string(),
        "--tls-ca-cert-file".into(),
        pki.ca.display().to_string(),
        "--tls-auth-clients".into(),
        if mutual { "yes" } else { "no" }.into(),
    ];
    (
        RedisServer::start_with_args(RedisFlavor::Plain, None, args.to_vec()),
        tls_port,
    )
}

/// The Redis sink of a config whose `redis:` section is `redis` (YAML flow mapping).
fn sink(redis: &str) -> RedisSink {
    let yaml = format!("redis: {redis}\nopenvidu:\n  analytics:\n    redis: {{enabled: true}}\n");
    let config = Config::parse(&yaml, ConfigSource::Inline("test".into())).expect("config");
    RedisSink::new(
        config.redis.as_ref().unwrap(),
        config.analytics.redis.as_ref().unwrap(),
    )
    .expect("sink")
}

fn batch(n: u32) -> Vec<SharedItem> {
    (0..n)
        .flat_map(|i| [Arc::new(event(i)), Arc::new(stat(i, &format!("PA_{i}")))])
        .collect()
}

fn dbsize(server: &RedisServer) -> i64 {
    server.cmd(&["DBSIZE"]).as_int().expect("DBSIZE")
}

/// Stores `items` through `sink` and checks every key is on `server`.
async fn store_all(sink: &mut RedisSink, server: &RedisServer, items: &[SharedItem]) {
    sink.initialize().await.expect("initialize over TLS");
    let report = sink.send_batch(items).await;
    assert_eq!(report.stored_count(items.len()), items.len(), "{report:?}");
    assert_eq!(dbsize(server), items.len() as i64);
    for item in items {
        let key = redis_key(item);
        assert_eq!(
            server.cmd(&["EXISTS", &key]).as_int(),
            Some(1),
            "{key} stored"
        );
    }
}

/// Lines of `CLIENT LIST` whose local address is `port`.
fn clients_on(server: &RedisServer, port: u16) -> usize {
    let list = server.cmd(&["CLIENT", "LIST"]);
    let list = list.as_str().expect("CLIENT LIST is text").to_string();
    let laddr = format!("laddr=127.0.0.1:{port} ");
    list.lines().filter(|l| l.contains(&laddr)).count()
}

/// The error of a sink that cannot initialize.
async fn init_error(mut sink: RedisSink) -> String {
    match sink.initialize().await {
        Ok(()) => panic!("{} initialized", sink.location()),
        Err(SinkError::Unavailable(message)) => message,
        Err(other) => panic!("expected Unavailable (retried), got {other:?}"),
    }
}

#[tokio::test]
async fn items_are_stored_over_tls_with_a_private_ca_and_trust_failures_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    let other_dir = tempfile::tempdir().unwrap();
    let other = Pki::new(other_dir.path());
    let (server, tls_port) = tls_redis(&pki, false);

    // The private CA: every item stored, over the TLS port.
    let mut good = sink(&format!(
        "{{address: '127.0.0.1:{tls_port}', tls: {{enabled: true, ca_cert_file: '{}'}}}}",
        pki.ca.display()
    ));
    assert_eq!(good.location(), format!("rediss://127.0.0.1:{tls_port}/0"));
    store_all(&mut good, &server, &batch(20)).await;
    assert!(
        clients_on(&server, tls_port) >= 1,
        "the sink is on the TLS port"
    );

    // Another CA: refused, naming the cause and the file.
    let message = init_error(sink(&format!(
        "{{address: '127.0.0.1:{tls_port}', tls: {{enabled: true, ca_cert_file: '{}'}}}}",
        other.ca.display()
    )))
    .await;
    assert!(
        message.contains(
            "TLS: the server's certificate is not signed by the CA of redis.tls.ca_cert_file"
        ) && message.contains(&other.ca.display().to_string())
            && message.contains("UnknownIssuer"),
        "{message}"
    );

    // The deprecated `use_tls` trusts the system's roots only, which do not know this CA.
    let message = init_error(sink(&format!(
        "{{address: '127.0.0.1:{tls_port}', use_tls: true}}"
    )))
    .await;
    assert!(
        message.contains("not signed by the system's roots (set redis.tls.ca_cert_file"),
        "{message}"
    );

    // `insecure`: any certificate (here one the configured CA did not sign) is accepted.
    let mut insecure = sink(&format!(
        "{{address: '127.0.0.1:{tls_port}', tls: {{enabled: true, insecure: true, \
         ca_cert_file: '{}'}}}}",
        other.ca.display()
    ));
    insecure
        .initialize()
        .await
        .expect("insecure accepts any certificate");
    let more = [Arc::new(event(1000))];
    let report = insecure.send_batch(&more).await;
    assert_eq!(report.stored_count(1), 1, "{report:?}");
    assert_eq!(dbsize(&server), 41);
}

#[tokio::test]
async fn mutual_tls_needs_the_client_certificate_the_ca_signed() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    let other_dir = tempfile::tempdir().unwrap();
    let other = Pki::new(other_dir.path());
    let (server, tls_port) = tls_redis(&pki, true);
    let with_client = |client: &Pki| {
        format!(
            "{{address: '127.0.0.1:{tls_port}', tls: {{enabled: true, ca_cert_file: '{}', \
             client_cert_file: '{}', client_key_file: '{}'}}}}",
            pki.ca.display(),
            client.client_cert.display(),
            client.client_key.display()
        )
    };

    let mut good = sink(&with_client(&pki));
    store_all(&mut good, &server, &batch(10)).await;
    assert!(clients_on(&server, tls_port) >= 1);

    // No client certificate, or one another CA signed: the server refuses the handshake.
    let none = format!(
        "{{address: '127.0.0.1:{tls_port}', tls: {{enabled: true, ca_cert_file: '{}'}}}}",
        pki.ca.display()
    );
    for (what, redis) in [
        ("no client certificate", none),
        ("a foreign client certificate", with_client(&other)),
    ] {
        let message = init_error(sink(&redis)).await;
        assert!(
            message.contains("TLS: the server refused the client certificate"),
            "{what}: {message}"
        );
    }
    assert_eq!(dbsize(&server), 20, "nothing else stored");
}

#[test]
fn unreadable_or_empty_tls_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let build = |redis: String| {
        let yaml =
            format!("redis: {redis}\nopenvidu:\n  analytics:\n    redis: {{enabled: true}}\n");
        let config = Config::parse(&yaml, ConfigSource::Inline("test".into())).expect("config");
        match RedisSink::new(
            config.redis.as_ref().unwrap(),
            config.analytics.redis.as_ref().unwrap(),
        ) {
            Ok(_) => panic!("built with {redis}"),
            Err(err) => format!("{err:#}"),
        }
    };
    let missing = dir.path().join("missing.pem");
    let err = build(format!(
        "{{address: 'h:1', tls: {{enabled: true, ca_cert_file: '{}'}}}}",
        missing.display()
    ));
    assert!(
        err.contains("redis.tls.ca_cert_file") && err.contains("missing.pem"),
        "{err}"
    );
    let err = build(format!(
        "{{address: 'h:1', tls: {{enabled: true, ca_cert_file: '{}'}}}}",
        empty.display()
    ));
    assert!(err.contains("holds no certificate"), "{err}");
    let err = build(format!(
        "{{address: 'h:1', tls: {{enabled: true, client_cert_file: '{}', \
         client_key_file: '{}'}}}}",
        pki.client_cert.display(),
        pki.client_cert.display()
    ));
    assert!(
        err.contains("redis.tls.client_key_file") && err.contains("holds no private key"),
        "{err}"
    );
}

//! TLS on the doors with throw-away certificates (`rcgen`): HTTPS webhooks and gRPC over
//! TLS from real clients that trust only the test CA; mutual TLS refusing a client without
//! a certificate; a plain client refused by a TLS door; a bad key file named at start.

// Each test crate uses part of the kit; every item of it is used by some test or bench.
#[allow(dead_code)]
mod kit;

use analytics_host::config::{Config, ConfigSource};
use analytics_host::ingest::grpc::AnalyticsRecorderServiceClient;
use futures::stream;
use kit::host::TestHost;
use kit::pki::Pki;
use kit::webhook::{room_started, sign};
use kit::{KEY, SECRET};
use std::sync::atomic::Ordering;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

fn tls_yaml(pki: &Pki, mutual: bool) -> String {
    let ca = if mutual {
        format!(", client_ca_file: {}", pki.ca.display())
    } else {
        String::new()
    };
    format!(
        "{{ cert_file: {}, key_file: {}{ca} }}",
        pki.cert.display(),
        pki.key.display()
    )
}

async fn host(pki: &Pki, mutual: bool) -> TestHost {
    let tls = tls_yaml(pki, mutual);
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "keys:\n  {KEY}: {SECRET}\nopenvidu:\n  analytics:\n    interval: 50ms\n    \
         file: {{ enabled: true, dir: {} }}\n    ingest:\n      \
         webhook: {{ listen: \"127.0.0.1:0\", tls: {tls} }}\n      \
         grpc: {{ listen: \"127.0.0.1:0\", tls: {tls} }}\n",
        dir.path().display()
    );
    TestHost::from_yaml(dir, &yaml).await
}

fn https_client(pki: &Pki, identity: bool) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(pki.ca_pem.as_bytes()).unwrap());
    if identity {
        builder = builder.identity(reqwest::Identity::from_pem(pki.client_pem.as_bytes()).unwrap());
    }
    builder.build().unwrap()
}

async fn post(client: &reqwest::Client, url: &str, n: u32) -> Result<u16, reqwest::Error> {
    let body = room_started(n);
    let auth = sign(&body);
    let response = client
        .post(url)
        .header("Authorization", auth)
        .header("Content-Type", "application/webhook+json")
        .body(body)
        .send()
        .await?;
    Ok(response.status().as_u16())
}

fn https(host: &TestHost) -> String {
    host.webhook_url()
        .replace("http://127.0.0.1", "https://localhost")
}

async fn grpc_channel(
    host: &TestHost,
    pki: &Pki,
    identity: bool,
) -> Result<Channel, tonic::transport::Error> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&pki.ca_pem))
        .domain_name("localhost");
    if identity {
        tls = tls.identity(Identity::from_pem(&pki.client_pem, &pki.client_pem));
    }
    let url = host.grpc_url().replace("http://", "https://");
    Channel::from_shared(url)
        .unwrap()
        .tls_config(tls)?
        .connect()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_doors_speak_tls_and_plain_clients_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    let host = host(&pki, false).await;
    assert_eq!(
        post(&https_client(&pki, false), &https(&host), 1)
            .await
            .unwrap(),
        200
    );
    // Plain HTTP to the TLS door gets no answer.
    assert!(post(&reqwest::Client::new(), &host.webhook_url(), 2)
        .await
        .is_err());
    // gRPC over TLS.
    let channel = grpc_channel(&host, &pki, false).await.expect("TLS channel");
    AnalyticsRecorderServiceClient::new(channel)
        .ingest_events(stream::iter(vec![kit::grpc::events(1, 0, 3)]))
        .await
        .expect("events over TLS");
    host.wait_for("events", 4).await;
    assert_eq!(
        host.doors.counters.webhook_accepted.load(Ordering::Relaxed),
        1
    );
    host.doors.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_needs_a_client_certificate_the_ca_signed() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    let host = host(&pki, true).await;
    assert!(
        post(&https_client(&pki, false), &https(&host), 1)
            .await
            .is_err(),
        "no client certificate"
    );
    assert_eq!(
        post(&https_client(&pki, true), &https(&host), 2)
            .await
            .unwrap(),
        200
    );
    let without = match grpc_channel(&host, &pki, false).await {
        Ok(channel) => AnalyticsRecorderServiceClient::new(channel)
            .ingest_events(stream::iter(vec![kit::grpc::events(1, 0, 1)]))
            .await
            .is_err(),
        Err(_) => true,
    };
    assert!(without, "gRPC without a client certificate is refused");
    let channel = grpc_channel(&host, &pki, true).await.expect("mTLS channel");
    AnalyticsRecorderServiceClient::new(channel)
        .ingest_events(stream::iter(vec![kit::grpc::events(2, 0, 2)]))
        .await
        .expect("events over mTLS");
    host.wait_for("events", 3).await;
    host.doors.close().await;
}

#[tokio::test]
async fn a_missing_or_bad_key_file_is_named_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    let bad = dir.path().join("not-a-key.pem");
    std::fs::write(&bad, "hello").unwrap();
    for (key, why) in [
        (dir.path().join("missing.key"), "cannot be read"),
        (bad, "no private key"),
    ] {
        let yaml = format!(
            "openvidu:\n  analytics:\n    ingest:\n      webhook:\n        listen: \"127.0.0.1:0\"\n        tls: {{ cert_file: {}, key_file: {} }}\n      grpc:\n        enabled: false\n",
            pki.cert.display(),
            key.display()
        );
        let config = Config::parse(&yaml, ConfigSource::Inline("test".into())).unwrap();
        let host = analytics_host::app::Host::start(Vec::new(), &config.analytics);
        let err = analytics_host::ingest::Doors::start(&config.doors(), host.pipeline.clone())
            .await
            .err()
            .expect("refused");
        let text = format!("{err:#}");
        assert!(
            text.contains("ingest.webhook.tls") && text.contains(why),
            "{text}"
        );
        assert!(text.contains(&key.display().to_string()), "{text}");
    }
}

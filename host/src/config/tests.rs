use super::*;

fn parse(text: &str) -> anyhow::Result<Config> {
    Config::parse(text, ConfigSource::File(PathBuf::from("test.yaml")))
}

#[test]
fn shipped_config_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config.yaml");
    let config = Config::from_file(&path).unwrap();
    assert!(config.analytics.enabled);
    assert_eq!(config.keys.secret("devkey"), Some("secret"));
    assert!(config.analytics.mongo_url.is_some());
    assert!(!config.file_store_enabled());
}

#[test]
fn embedded_config_needs_no_server() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config.local.yaml");
    let config = Config::from_file(&path).unwrap();
    assert!(config.analytics.mongo_url.is_none());
    assert!(config.file_store_enabled());
}

#[test]
fn the_file_store_is_on_only_when_no_other_sink_is() {
    let wasm = tempfile::NamedTempFile::new().unwrap();
    let plugin = format!(
        "openvidu:\n  analytics:\n    plugins:\n      - name: p\n        path: {}\n",
        wasm.path().display()
    );
    let plugin = plugin.as_str();
    assert!(
        !parse(plugin).unwrap().file_store_enabled(),
        "a plugin is a sink"
    );
    let disabled = format!("{plugin}        enabled: false\n");
    assert!(
        parse(&disabled).unwrap().file_store_enabled(),
        "a disabled plugin is not"
    );
    let forced = format!("{plugin}    file:\n      enabled: true\n");
    assert!(parse(&forced).unwrap().file_store_enabled());
}

#[test]
fn other_livekit_keys_are_ignored() {
    let config = parse(
        "port: 7880\nrtc:\n  tcp_port: 7881\nwebhook:\n  urls: [http://x]\nkeys:\n  k: s\nopenvidu:\n  analytics:\n    enabled: true\n    interval: 1h30m\n    expiration: 1.5h\n",
    )
    .unwrap();
    assert_eq!(config.analytics.interval, Duration::from_secs(5400));
    assert_eq!(config.analytics.expiration, Duration::from_secs(5400));
    assert_eq!(config.keys.secret("k"), Some("s"));
}

#[test]
fn one_file_for_livekit_server_and_the_host() {
    // The patched livekit-server's `analytics_export` (docs/ingest.md) is one more LiveKit
    // key for the host; a YAML alias can carry the shared token.
    let config = parse(
        "port: 7880\nkeys:\n  APIkey: secret\nopenvidu:\n  analytics:\n    ingest:\n      grpc:\n        listen: \"127.0.0.1:7891\"\n        token: &ingest_token s3cret\nanalytics_export:\n  url: http://127.0.0.1:7891\n  token: *ingest_token\n  queue_size: 10000\n  node_rooms_interval: 10s\n",
    )
    .unwrap();
    assert_eq!(
        config.analytics.ingest.grpc.token.as_deref(),
        Some("s3cret")
    );
    assert_eq!(config.keys.secret("APIkey"), Some("secret"));
}

#[test]
fn unknown_analytics_key_is_named() {
    let err = parse("openvidu:\n  analytics:\n    intervall: 10s\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("intervall"), "{err}");
    assert!(err.contains("test.yaml"), "{err}");
    assert!(err.contains("openvidu.analytics"), "{err}");
}

#[test]
fn bad_duration_names_key_and_value() {
    let err = parse("openvidu:\n  analytics:\n    interval: 10 parsecs\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("`10 parsecs`"), "{err}");
    assert!(err.contains("interval"), "{err}");
    assert!(err.contains("test.yaml"), "{err}");
}

#[test]
fn bad_values_are_named() {
    let err = parse("openvidu:\n  analytics:\n    batch_size: 0\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("openvidu.analytics.batch_size"), "{err}");
    let err = parse("openvidu:\n  analytics:\n    mongo_url: http://db\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("mongo_url") && err.contains("http://db"),
        "{err}"
    );
    let err = parse("openvidu:\n  analytics:\n    queue:\n      overflow: explode\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("explode") && err.contains("overflow"), "{err}");
}

#[test]
fn unreadable_file_is_named() {
    let err = Config::from_file(Path::new("/nonexistent/livekit.yaml")).unwrap_err();
    assert!(format!("{err:#}").contains("/nonexistent/livekit.yaml"));
}

#[test]
fn key_file_is_read_relative_to_the_config() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("keys.yaml"), "filekey: filesecret\n").unwrap();
    let config_path = dir.path().join("livekit.yaml");
    std::fs::write(&config_path, "key_file: keys.yaml\nkeys:\n  inline: s1\n").unwrap();
    let config = Config::from_file(&config_path).unwrap();
    assert_eq!(config.keys.secret("filekey"), Some("filesecret"));
    assert_eq!(config.keys.secret("inline"), Some("s1"));
}

#[test]
fn secrets_are_masked() {
    let config = parse(
        "keys:\n  devkey: topsecret\nredis:\n  address: localhost:6379\n  password: redispass\nopenvidu:\n  analytics:\n    mongo_url: mongodb://admin:dbpass@db:27017/?authSource=admin\n",
    )
    .unwrap();
    let text = config.describe();
    assert!(
        !text.contains("topsecret") && !text.contains("redispass") && !text.contains("dbpass"),
        "{text}"
    );
    assert!(
        text.contains("devkey") && text.contains("mongodb://admin:****@db:27017"),
        "{text}"
    );
}

#[test]
fn disabled_is_kept() {
    let config = parse("openvidu:\n  analytics:\n    enabled: false\n").unwrap();
    assert!(!config.analytics.enabled);
}

/// `openvidu.analytics` as the fork that OpenVidu 3.9 ships reads it, in a LiveKit file
/// with the other keys such a node carries.
const OPENVIDU_3_9: &str = "\
port: 7880
bind_addresses: [\"\"]
rtc:
  udp_port: 7882
  tcp_port: 7881
redis:
  address: 127.0.0.1:6379
  username: \"\"
  password: redispassword
  db: 0
keys:
  devkey: secretsecretsecretsecretsecretsecret
webhook:
  api_key: devkey
  urls: [http://127.0.0.1:6080/livekit/webhook]
ingress:
  rtmp_base_url: rtmp://localhost:1935/rtmp
openvidu:
  use_global_cpu_monitoring: true
  analytics:
    enabled: true
    interval: 10s
    expiration: 768h
    mongo_url: mongodb://mongoadmin:mongoadmin@127.0.0.1:20000/
    database: openvidu
    fixer_interval: 1m
";

#[test]
fn an_openvidu_3_9_config_is_read_unchanged() {
    let config = parse(OPENVIDU_3_9).unwrap();
    let a = &config.analytics;
    assert_eq!(a.database(), "openvidu");
    assert_eq!(a.interval, Duration::from_secs(10));
    assert_eq!(a.fixer_interval, Duration::from_secs(60));
    assert_eq!(a.fixer_period(), Duration::from_secs(60));
    assert_eq!(a.expiration, Duration::from_secs(768 * 3600));
    let described = config.describe();
    for line in [
        "    database: openvidu\n",
        "    fixer_interval: 1m\n",
        "    expiration: 768h\n",
        "    interval: 10s\n",
        "    mongo_url: mongodb://mongoadmin:****@127.0.0.1:20000/\n",
    ] {
        assert!(described.contains(line), "{line:?} not in:\n{described}");
    }
    assert!(!described.contains("mongo_database"), "{described}");
}

#[test]
fn zero_durations_and_absent_keys_take_the_forks_defaults() {
    let zero = parse("openvidu:\n  analytics:\n    interval: 0s\n    fixer_interval: \"0\"\n    expiration: 0s\n").unwrap();
    let absent = parse("openvidu:\n  analytics:\n    enabled: true\n").unwrap();
    for a in [&zero.analytics, &absent.analytics] {
        assert_eq!(a.interval, Duration::from_secs(10));
        assert_eq!(a.fixer_interval, Duration::from_secs(60));
        assert_eq!(a.expiration, Duration::from_secs(32 * 24 * 3600));
        assert_eq!(a.database(), "openvidu");
    }
}

#[test]
fn mongo_database_is_an_alias_of_database() {
    let alias = parse("openvidu:\n  analytics:\n    mongo_database: analytics\n").unwrap();
    assert_eq!(alias.analytics.database(), "analytics");
    assert!(alias.describe().contains("    database: analytics\n"));
    let both = parse("openvidu:\n  analytics:\n    mongo_database: a\n    database: a\n").unwrap();
    assert_eq!(both.analytics.database(), "a");
    let err = parse("openvidu:\n  analytics:\n    mongo_database: a\n    database: b\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("openvidu.analytics.database") && err.contains("`a`") && err.contains("`b`"),
        "{err}"
    );
    let err = parse("openvidu:\n  analytics:\n    database: \"\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("openvidu.analytics.database: must not be empty"),
        "{err}"
    );
}

#[test]
fn the_default_overflow_policy_never_evicts_what_was_acknowledged() {
    let config = Config::parse("", ConfigSource::Inline("test".into())).unwrap();
    assert_eq!(config.analytics.queue.overflow, OverflowPolicy::Reject);
    assert_eq!(QueueConfig::default().overflow, OverflowPolicy::Reject);
}

#[test]
fn the_read_api_store_is_checked_against_what_is_configured() {
    let mongo = "openvidu:\n  analytics:\n    mongo_url: mongodb://db\n";
    // `embedded` beside MongoDB needs the file store (off by default when MongoDB is set).
    let err = format!(
        "{:#}",
        parse(&format!("{mongo}    api: {{ store: embedded }}\n")).unwrap_err()
    );
    assert!(
        err.contains("openvidu.analytics.api.store") && err.contains("file store"),
        "{err}"
    );
    let both = parse(&format!(
        "{mongo}    file: {{ enabled: true }}\n    api: {{ store: embedded }}\n"
    ))
    .unwrap();
    assert_eq!(both.analytics.api.store, crate::api::ApiStore::Embedded);
    // `mongodb` without a MongoDB; an unknown store.
    let err = format!(
        "{:#}",
        parse("openvidu:\n  analytics:\n    api: { store: mongodb }\n").unwrap_err()
    );
    assert!(err.contains("mongo_url"), "{err}");
    let err = format!(
        "{:#}",
        parse("openvidu:\n  analytics:\n    api: { store: elsewhere }\n").unwrap_err()
    );
    assert!(
        err.contains("elsewhere") || err.contains("unknown variant"),
        "{err}"
    );
    // The default is `auto`.
    let plain = parse("openvidu:\n  analytics:\n    enabled: true\n").unwrap();
    assert_eq!(plain.analytics.api.store, crate::api::ApiStore::Auto);
}

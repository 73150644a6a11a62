//! Static validation of the compose stack (it cannot run here): `docker-compose.yml` parses;
//! every service, port and environment variable is there; livekit-server (built from
//! `livekit/`) streams its analytics to the host's gRPC door with its token; the host's
//! mounted config passes `check-config` and reaches MongoDB and Redis by their service
//! names; the `Dockerfile` builds the binary the compose `command` runs; and the
//! healthcheck's `/ready` probe works against the real binary.

// Each test crate uses part of the kit; every item of it is used by some test or bench.
#[allow(dead_code)]
mod kit;

use analytics_host::config::Config;
use kit::process::{bin, run_ok, HostProcess};
use serde_yaml::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn compose() -> Value {
    let text = std::fs::read_to_string(root().join("docker-compose.yml")).unwrap();
    serde_yaml::from_str(&text).expect("docker-compose.yml parses")
}

fn service<'a>(compose: &'a Value, name: &str) -> &'a Value {
    let s = &compose["services"][name];
    assert!(s.is_mapping(), "no service `{name}`");
    s
}

fn strings(v: &Value) -> Vec<String> {
    v.as_sequence()
        .map(|s| {
            s.iter()
                .map(|x| x.as_str().expect("a string").to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn env<'a>(service: &'a Value, key: &str) -> &'a str {
    service["environment"][key]
        .as_str()
        .unwrap_or_else(|| panic!("no environment {key}"))
}

/// The host file mounted at `target` in `service` (a `./source:target[:ro]` volume).
fn mounted(service: &Value, target: &str) -> PathBuf {
    let volume = strings(&service["volumes"])
        .into_iter()
        .find(|v| v.split(':').nth(1) == Some(target))
        .unwrap_or_else(|| panic!("nothing mounted at {target}"));
    let source = volume.split(':').next().unwrap();
    let path = root().join(source.trim_start_matches("./"));
    assert!(path.is_file(), "{} is not a file", path.display());
    path
}

/// The value after `--config` in a service's command.
fn config_arg(service: &Value) -> String {
    let command = strings(&service["command"]);
    let at = command
        .iter()
        .position(|a| a == "--config")
        .expect("--config");
    command[at + 1].clone()
}

#[test]
fn every_service_port_and_env_is_there() {
    let c = compose();
    let ports = |name: &str| strings(&service(&c, name)["ports"]);
    for (name, want) in [
        (
            "livekit",
            &["7880:7880", "7881:7881", "50000-50100:50000-50100/udp"][..],
        ),
        ("analytics-host", &["7890:7890", "7891:7891", "7892:7892"]),
        ("mongo", &["27017:27017"]),
        ("mongo-express", &["8081:8081"]),
        ("redis", &["6379:6379"]),
    ] {
        let got = ports(name);
        for port in want {
            assert!(
                got.iter().any(|p| p == port),
                "{name}: no {port} in {got:?}"
            );
        }
    }
    let mongo = service(&c, "mongo");
    assert_eq!(env(mongo, "MONGO_INITDB_ROOT_USERNAME"), "admin");
    assert_eq!(env(mongo, "MONGO_INITDB_ROOT_PASSWORD"), "pass");
    let express = service(&c, "mongo-express");
    assert_eq!(env(express, "ME_CONFIG_BASICAUTH_USERNAME"), "admin");
    assert_eq!(env(express, "ME_CONFIG_BASICAUTH_PASSWORD"), "pass");
    assert!(
        env(express, "ME_CONFIG_MONGODB_URL").starts_with("mongodb://admin:pass@mongo:27017/"),
        "mongo-express must reach the `mongo` service with its root credentials"
    );
    assert!(env(service(&c, "analytics-host"), "RUST_LOG").contains("info"));
    assert!(service(&c, "redis")["image"]
        .as_str()
        .unwrap()
        .starts_with("redis/redis-stack"));
    // livekit-server is the project's patched build (livekit/), made by livekit/build.sh.
    assert_eq!(service(&c, "livekit")["build"].as_str(), Some("./livekit"));
    let dockerfile = std::fs::read_to_string(root().join("livekit/Dockerfile")).unwrap();
    assert!(dockerfile.contains("COPY build.sh ./"));
    assert!(dockerfile.contains("COPY patches ./patches"));
    assert!(dockerfile.contains("bash build.sh"));
    for file in ["build.sh", "patches/v1.13.3-v1.13.5.patch"] {
        assert!(
            root().join("livekit").join(file).is_file(),
            "livekit/{file}"
        );
    }
    for name in ["livekit", "analytics-host"] {
        let depends = &service(&c, name)["depends_on"];
        let names: Vec<String> = match depends {
            Value::Mapping(m) => m.keys().map(|k| k.as_str().unwrap().into()).collect(),
            other => strings(other),
        };
        for dep in &names {
            service(&c, dep);
        }
    }
}

#[test]
fn the_hosts_config_passes_check_config_and_reaches_the_other_services() {
    let c = compose();
    let host = service(&c, "analytics-host");
    let path = mounted(host, &config_arg(host));
    let config = Config::from_file(&path).expect("the mounted config is valid");
    let a = &config.analytics;
    assert!(a.enabled);
    let mongo = a.mongo_url.as_deref().expect("mongo_url");
    assert!(
        mongo.starts_with("mongodb://admin:pass@mongo:27017/"),
        "{mongo}"
    );
    assert!(config.redis_sink_enabled(), "the Redis sink is on");
    assert_eq!(config.redis.as_ref().unwrap().address, "redis:6379");
    assert_eq!(a.ingest.webhook.listen.to_string(), "0.0.0.0:7890");
    assert_eq!(a.ingest.grpc.listen.to_string(), "0.0.0.0:7891");
    assert!(a.telemetry.enabled);
    assert_eq!(a.telemetry.listen.to_string(), "0.0.0.0:7892");

    let text = run_ok(bin().arg("check-config").arg("--config").arg(&path));
    assert!(text.contains("# sinks: mongo, redis"), "{text}");

    // livekit-server streams its analytics to the host's gRPC door with the host's token,
    // and posts it no webhooks (each happening would be stored twice, under two ids).
    let livekit = service(&c, "livekit");
    let lk_path = mounted(livekit, &config_arg(livekit));
    let lk: Value = serde_yaml::from_str(&std::fs::read_to_string(lk_path).unwrap()).unwrap();
    let url = format!("http://analytics-host:{}", a.ingest.grpc.listen.port());
    assert_eq!(lk["analytics_export"]["url"].as_str(), Some(url.as_str()));
    assert_eq!(
        lk["analytics_export"]["token"].as_str(),
        a.ingest.grpc.token.as_deref(),
        "livekit-server sends the token the host's gRPC door expects"
    );
    assert!(
        !strings(&lk["webhook"]["urls"])
            .iter()
            .any(|u| u.contains("analytics-host")),
        "an exporting node sends the host no webhooks"
    );
    assert!(
        lk["keys"].as_mapping().is_some_and(|k| !k.is_empty()),
        "livekit-server has its keys"
    );
    assert_eq!(lk["redis"]["address"].as_str(), Some("redis:6379"));
}

#[test]
fn the_dockerfile_builds_the_binary_the_compose_command_runs() {
    let c = compose();
    let host = service(&c, "analytics-host");
    assert_eq!(host["build"].as_str(), Some("."));
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    let manifest: toml_like::Manifest = toml_like::read(&root().join("host/Cargo.toml"));
    assert!(
        dockerfile.contains(&format!(
            "cargo build --release --locked -p {}",
            manifest.package
        )),
        "the Dockerfile builds package {}",
        manifest.package
    );
    assert!(dockerfile.contains(&format!(
        "COPY --from=build /src/target/release/{bin} /usr/local/bin/{bin}",
        bin = manifest.bin
    )));
    assert!(dockerfile.contains(&format!("ENTRYPOINT [\"{}\"]", manifest.bin)));
    assert!(dockerfile.contains("EXPOSE 7890 7891 7892"));
    let command = strings(&host["command"]);
    assert_eq!(
        command[0], "run",
        "the command is a subcommand of the entrypoint"
    );
    let help = bin().arg("--help").output().unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("run"));
    // Every COPY source exists in the build context.
    for line in dockerfile.lines().filter(|l| l.starts_with("COPY ")) {
        if line.contains("--from=") {
            continue;
        }
        let parts: Vec<&str> = line.split_whitespace().collect();
        for source in &parts[1..parts.len() - 1] {
            assert!(
                root().join(source).exists(),
                "COPY source {source} is missing"
            );
        }
    }
}

/// The two names the Dockerfile needs from `host/Cargo.toml`, read without a TOML parser.
mod toml_like {
    use std::path::Path;

    pub struct Manifest {
        pub package: String,
        pub bin: String,
    }

    pub fn read(path: &Path) -> Manifest {
        let text = std::fs::read_to_string(path).unwrap();
        let mut section = String::new();
        let (mut package, mut bin) = (None, None);
        for line in text.lines().map(str::trim) {
            if line.starts_with('[') {
                section = line.to_string();
                continue;
            }
            let Some(value) = line.strip_prefix("name = ") else {
                continue;
            };
            let value = value.trim_matches('"').to_string();
            match section.as_str() {
                "[package]" => package = Some(value),
                "[[bin]]" => bin = Some(value),
                _ => {}
            }
        }
        Manifest {
            package: package.expect("package name"),
            bin: bin.expect("bin name"),
        }
    }
}

#[test]
fn the_compose_healthcheck_probes_ready_on_the_real_binary() {
    let c = compose();
    let host = service(&c, "analytics-host");
    let test = strings(&host["healthcheck"]["test"]);
    assert_eq!(&test[..3], ["CMD", "bash", "-c"]);
    let probe = &test[3];
    assert!(probe.contains("/dev/tcp/127.0.0.1/7892") && probe.contains("GET /ready"));
    let livekit = service(&c, "livekit");
    assert_eq!(
        livekit["depends_on"]["analytics-host"]["condition"].as_str(),
        Some("service_healthy")
    );

    let mut host = HostProcess::prepare();
    let port = host.telemetry_port;
    let probe = probe.replace("7892", &port.to_string());
    let run_probe = || {
        Command::new("bash")
            .args(["-c", &probe])
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success()
    };
    assert!(!run_probe(), "nothing listens yet");
    let config = format!(
        "openvidu:\n  analytics:\n    file: {{ dir: \"{}\" }}\n    ingest:\n      webhook: {{ listen: \"127.0.0.1:0\" }}\n      grpc: {{ listen: \"127.0.0.1:0\" }}\n    telemetry: {{ listen: \"127.0.0.1:{port}\" }}\n",
        host.dir.path().join("data").display()
    );
    host.start(bin().arg("run").env("LIVEKIT_CONFIG", config));
    let started = Instant::now();
    let healthy = loop {
        if run_probe() {
            break true;
        }
        if started.elapsed() > Duration::from_secs(20) {
            break false;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let code = host.stop();
    assert!(healthy, "the healthcheck never passed");
    assert_eq!(code, Some(0), "{}", host.log_text());
}

//! Compiles the LiveKit `.proto` files shipped inside the `livekit-protocol` crate into a
//! descriptor set, so that the host can walk any LiveKit message by its schema (proto field
//! names, enum names) when it builds documents. Pure Rust (protox): no `protoc` needed.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let protos = livekit_protocol_dir().join("protocol").join("protobufs");
    let files = ["livekit_analytics.proto", "livekit_webhook.proto"];
    let descriptors = protox::compile(files, [&protos]).unwrap_or_else(|err| {
        panic!(
            "compiling the LiveKit protos in {}: {err:?}",
            protos.display()
        )
    });
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR is set by cargo"));
    let bytes = prost::Message::encode_to_vec(&descriptors);
    std::fs::write(out.join("livekit_descriptors.bin"), bytes).expect("writing descriptors");
    compile_recorder_service(&protos);
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed={}", protos.display());
}

/// Generates the tonic server and client of `livekit.AnalyticsRecorderService` (declared in
/// `proto/`) over the protocol crate's message types; only the service is generated. The
/// server takes `AnalyticsStats` and `AnalyticsEvents` as received
/// (`crate::ingest::grpc::WireBatch`: the encoded bytes, each record walked once into its
/// document), so it is generated on its own, into `server/`; the client (`client/`) sends
/// the protocol crate's types.
fn compile_recorder_service(protos: &std::path::Path) {
    let file = "livekit_analytics_recorder.proto";
    let mut set = protox::compile([file], [std::path::Path::new("proto"), protos])
        .unwrap_or_else(|err| panic!("compiling proto/{file}: {err:?}"));
    set.file.retain(|f| f.name() == file);
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR is set by cargo"));
    for side in ["server", "client"] {
        let dir = out.join(side);
        std::fs::create_dir_all(&dir).expect("creating the generated code's directory");
        let mut config = tonic_prost_build::configure()
            .build_server(side == "server")
            .build_client(side == "client")
            .out_dir(&dir);
        if side == "server" {
            config = config
                .extern_path(".livekit.AnalyticsStats", "crate::ingest::grpc::WireBatch")
                .extern_path(".livekit.AnalyticsEvents", "crate::ingest::grpc::WireBatch");
        }
        config
            .extern_path(".livekit", "::livekit_protocol")
            .compile_fds(set.clone())
            .expect("generating the AnalyticsRecorderService code");
    }
    println!("cargo:rerun-if-changed=proto");
}

/// Where cargo unpacked the `livekit-protocol` crate this build depends on.
fn livekit_protocol_dir() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR");
    let output = Command::new(cargo)
        // Only this target's packages: others (say, Windows-only crates) need not be in
        // the local cache, and `--offline` would otherwise fail on them.
        .args([
            "metadata",
            "--format-version",
            "1",
            "--offline",
            "--filter-platform",
        ])
        .arg(std::env::var("TARGET").expect("TARGET is set by cargo"))
        .current_dir(manifest)
        .output()
        .expect("running cargo metadata");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON");
    let packages = metadata["packages"].as_array().expect("packages list");
    let package = packages
        .iter()
        .find(|p| p["name"] == "livekit-protocol")
        .expect("livekit-protocol is a dependency");
    let manifest_path = PathBuf::from(package["manifest_path"].as_str().expect("manifest path"));
    manifest_path.parent().expect("crate dir").to_path_buf()
}

//! Compiles the LiveKit `.proto` files in `proto/livekit/` (livekit/protocol's own files,
//! of the version the `livekit-protocol` crate is generated from: see
//! `proto/livekit/UPSTREAM.md`) into a descriptor set, so that the host can walk any LiveKit
//! message by its schema (proto field names, enum names) when it builds documents. Pure Rust
//! (protox): no `protoc` needed, and nothing outside this crate is read, so a plain
//! `cargo build` works on a fresh machine (no cargo call, no dependency's source located).

use std::path::{Path, PathBuf};

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR is set by cargo");
    let protos = Path::new(&manifest).join("proto").join("livekit");
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
fn compile_recorder_service(protos: &Path) {
    let file = "livekit_analytics_recorder.proto";
    let mut set = protox::compile([file], [Path::new("proto"), protos])
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

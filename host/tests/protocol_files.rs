//! The LiveKit `.proto` files kept in `host/proto/livekit/` (compiled by `build.rs`) are the
//! `livekit-protocol` crate's own, byte for byte: an upgrade of the crate that forgets
//! `scripts/update-livekit-protos.sh` fails here, naming the files that differ.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The directory cargo unpacked the `livekit-protocol` crate of `Cargo.lock` into. (A test may
/// ask cargo: every dependency, dev-dependencies included, is downloaded before tests run —
/// which is exactly what a plain build does not do, and why `build.rs` must not ask.)
fn crate_protocol_dir() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // Only this platform's dependencies: the others (android_system_properties, …) are
    // not downloaded, and `--offline` cannot fetch them.
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--offline", "--locked"])
        .args(["--filter-platform", &host_triple()])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("running cargo metadata");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON");
    let manifest = metadata["packages"]
        .as_array()
        .expect("a packages list")
        .iter()
        .find(|p| p["name"] == "livekit-protocol")
        .and_then(|p| p["manifest_path"].as_str())
        .expect("livekit-protocol is a dependency");
    Path::new(manifest)
        .parent()
        .expect("the crate's folder")
        .join("protocol")
}

/// The platform rustc builds for by default (`host:` of `rustc -vV`).
fn host_triple() -> String {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let output = Command::new(rustc)
        .arg("-vV")
        .output()
        .expect("running rustc -vV");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .expect("rustc -vV names its host")
        .trim()
        .to_string()
}

fn proto_files(dir: &Path, prefix: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("reading proto/livekit") {
        let path = entry.expect("a directory entry").path();
        let relative = prefix.join(path.file_name().expect("a file name"));
        if path.is_dir() {
            proto_files(&path, &relative, out);
        } else if path.extension().is_some_and(|e| e == "proto") {
            out.push(relative);
        }
    }
}

#[test]
fn the_kept_proto_files_are_the_crates_own() {
    let kept = Path::new(env!("CARGO_MANIFEST_DIR")).join("proto/livekit");
    let upstream = crate_protocol_dir();
    let mut files = Vec::new();
    proto_files(&kept, Path::new(""), &mut files);
    assert!(
        files
            .iter()
            .any(|f| f == Path::new("livekit_analytics.proto")),
        "proto/livekit holds the analytics schema: {files:?}"
    );
    let mut differ = Vec::new();
    for file in files
        .iter()
        .map(|f| (f.clone(), Path::new("protobufs").join(f)))
        .chain(["LICENSE", "NOTICE"].map(|f| (PathBuf::from(f), PathBuf::from(f))))
    {
        let ours = std::fs::read(kept.join(&file.0)).expect("reading a kept file");
        match std::fs::read(upstream.join(&file.1)) {
            Ok(theirs) if theirs == ours => {}
            Ok(_) => differ.push(format!("{} differs", file.0.display())),
            Err(err) => differ.push(format!("{}: {err}", upstream.join(&file.1).display())),
        }
    }
    assert!(
        differ.is_empty(),
        "host/proto/livekit no longer matches livekit-protocol's files ({}): {differ:?}; \
         run scripts/update-livekit-protos.sh and update host/proto/livekit/UPSTREAM.md",
        upstream.display()
    );
    let version: serde_json::Value = serde_json::from_slice(
        &std::fs::read(upstream.join("package.json")).expect("the protocol's package.json"),
    )
    .expect("package.json is JSON");
    let notes = std::fs::read_to_string(kept.join("UPSTREAM.md")).expect("UPSTREAM.md");
    let version = version["version"].as_str().expect("a version");
    assert!(
        notes.contains(&format!("v{version}")),
        "UPSTREAM.md names livekit/protocol v{version}"
    );
}

//! Reading the embedded file store: one JSON Lines file series per collection,
//! `<collection>-*.jsonl`, in a directory.

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The files of `collection` in the store at `dir`, in order (none if `dir` is missing).
fn files(dir: &Path, collection: &str) -> Vec<PathBuf> {
    let prefix = format!("{collection}-");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|f| {
        let name = f.file_name().unwrap().to_string_lossy();
        name.starts_with(&prefix) && name.ends_with(".jsonl")
    });
    files.sort();
    files
}

/// How many documents of `collection` the store at `dir` holds so far: its complete
/// (newline-terminated) lines. Cheap enough to poll while the host writes.
pub fn count(dir: &Path, collection: &str) -> usize {
    files(dir, collection)
        .iter()
        .map(|f| {
            std::fs::read(f)
                .map(|b| b.iter().filter(|c| **c == b'\n').count())
                .unwrap_or(0)
        })
        .sum()
}

/// Every document of `collection` in the store at `dir`. Panics on a line that is not JSON:
/// read it once the host has written what the test waits for (see [`count`]).
pub fn read_store(dir: &Path, collection: &str) -> Vec<Value> {
    let mut docs = Vec::new();
    for file in files(dir, collection) {
        let text = std::fs::read_to_string(&file).unwrap();
        for line in text.lines() {
            let doc = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {line}", file.display()));
            docs.push(doc);
        }
    }
    docs
}

/// `_id` → how many times it is stored in `collection` at `dir`.
pub fn stored_ids(dir: &Path, collection: &str) -> BTreeMap<String, usize> {
    let mut ids = BTreeMap::new();
    for doc in read_store(dir, collection) {
        *ids.entry(doc["_id"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    ids
}

/// The `room_id` of every document of `collection` in the store at `dir`, sorted.
pub fn stored_rooms(dir: &Path, collection: &str) -> Vec<String> {
    let mut rooms: Vec<String> = read_store(dir, collection)
        .iter()
        .map(|d| d["room_id"].as_str().unwrap_or_default().to_string())
        .collect();
    rooms.sort();
    rooms
}

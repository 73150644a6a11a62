//! `rust-jsonl`: a livekit:analytics sink plugin that appends every event and stat
//! document (the `json` field of the contract) as one line to JSON Lines files in a
//! directory the host grants to the plugin.
//!
//! Files are named `<collection>-<YYYY-MM-DD>.<n>.jsonl` (`events-2026-11-27.0.jsonl`,
//! `stats-2026-11-27.3.jsonl`): one series per collection and UTC day of the item's
//! own timestamp, and a new file (`n + 1`) whenever the next line would make the
//! current one larger than `max_bytes`. Re-sent items (after a retry) are appended
//! again; readers can de-duplicate on `_id`.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::PathBuf;

wit_bindgen::generate!({
    path: "../../wit",
    world: "sink",
});

use livekit::analytics::log::{log, Level};
use livekit::analytics::status::give_up;
use livekit::analytics::types::{Collection, Disposition, ItemFailure};

const DEFAULT_DIR: &str = "/data";
const DEFAULT_MAX_BYTES: u64 = 64 * 1024 * 1024;

struct Settings {
    dir: PathBuf,
    max_bytes: u64,
    fsync: bool,
}

/// The file series of one collection and one day: its current file number and size.
#[derive(Clone, Copy)]
struct Current {
    index: u32,
    size: u64,
}

struct State {
    settings: Settings,
    /// (collection name, day) -> current file; filled lazily from the directory.
    current: BTreeMap<(&'static str, String), Current>,
}

thread_local! {
    static STATE: RefCell<Option<State>> = const { RefCell::new(None) };
}

struct Plugin;

fn parse_config(config: &[(String, String)]) -> Result<Settings, String> {
    let mut settings = Settings {
        dir: PathBuf::from(DEFAULT_DIR),
        max_bytes: DEFAULT_MAX_BYTES,
        fsync: false,
    };
    for (key, value) in config {
        match key.as_str() {
            "dir" => {
                if value.is_empty() {
                    return Err("config dir: must not be empty".into());
                }
                settings.dir = PathBuf::from(value);
            }
            "max_bytes" => {
                settings.max_bytes = parse_size(value)
                    .filter(|n| *n >= 1024)
                    .ok_or_else(|| format!("config max_bytes: {value:?} is not a size of at least 1024 bytes (e.g. 1048576, 64MiB)"))?;
            }
            "fsync" => {
                settings.fsync = match value.as_str() {
                    "true" | "yes" | "1" => true,
                    "false" | "no" | "0" => false,
                    _ => return Err(format!("config fsync: {value:?} is not true or false")),
                }
            }
            _ => return Err(format!("unknown config key {key:?} (known: dir, max_bytes, fsync)")),
        }
    }
    Ok(settings)
}

/// `1048576`, `512KiB`, `64MiB`, `1GiB` (also KB/MB/GB as powers of 1000).
fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let digits = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let number: u64 = number.parse().ok()?;
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        _ => return None,
    };
    number.checked_mul(factor)
}

/// The UTC calendar day of a Unix time, as `YYYY-MM-DD` (proleptic Gregorian).
fn utc_day(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

fn file_name(collection: &str, day: &str, index: u32) -> String {
    format!("{collection}-{day}.{index}.jsonl")
}

impl State {
    /// The newest file of a series, found by listing the directory (once per
    /// series and instance: the instance may be new after a restart or a trap).
    fn scan(&self, collection: &str, day: &str) -> Current {
        let prefix = format!("{collection}-{day}.");
        let mut best: Option<Current> = None;
        if let Ok(entries) = fs::read_dir(&self.settings.dir) {
            for entry in entries.flatten() {
                let name = entry.file_name();
                let Some(name) = name.to_str() else { continue };
                let Some(rest) = name.strip_prefix(&prefix) else { continue };
                let Some(number) = rest.strip_suffix(".jsonl") else { continue };
                let Ok(index) = number.parse::<u32>() else { continue };
                if best.is_none_or(|b| index > b.index) {
                    let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
                    best = Some(Current { index, size });
                }
            }
        }
        best.unwrap_or(Current { index: 0, size: 0 })
    }

    /// Append the lines of one batch, returning the items that could not be written.
    fn write(&mut self, items: Vec<Item<'_>>) -> Vec<ItemFailure> {
        // Plan: assign each line to a file, in order, rotating by size.
        let mut files: BTreeMap<String, (Vec<u8>, Vec<(Collection, u32)>, (&'static str, String))> =
            BTreeMap::new();
        let mut failures = Vec::new();
        for item in items {
            let line = item.json.trim();
            if line.is_empty() || !line.starts_with('{') {
                failures.push(ItemFailure {
                    collection: item.collection,
                    index: item.index,
                    disposition: Disposition::Drop,
                    message: "document is not a JSON object".into(),
                });
                continue;
            }
            let key = (item.collection_name, utc_day(item.seconds));
            let current = match self.current.get(&key) {
                Some(c) => *c,
                None => self.scan(key.0, &key.1),
            };
            let len = line.len() as u64 + 1;
            let current = if current.size > 0 && current.size + len > self.settings.max_bytes {
                Current { index: current.index + 1, size: len }
            } else {
                Current { index: current.index, size: current.size + len }
            };
            self.current.insert(key.clone(), current);
            let name = file_name(key.0, &key.1, current.index);
            let entry = files.entry(name).or_insert_with(|| (Vec::new(), Vec::new(), key));
            // A compact JSON document has no raw line breaks; drop any whitespace ones.
            entry.0.extend(line.bytes().filter(|b| *b != b'\n' && *b != b'\r'));
            entry.0.push(b'\n');
            entry.1.push((item.collection, item.index));
        }
        // Write: one append per file.
        for (name, (buffer, members, key)) in files {
            let path = self.settings.dir.join(&name);
            let result = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .and_then(|mut f| {
                    f.write_all(&buffer)?;
                    if self.settings.fsync {
                        f.sync_data()?;
                    }
                    Ok(())
                });
            if let Err(e) = result {
                // The size we planned is unknown now: list the directory again next time.
                self.current.remove(&key);
                let message = format!("{}: {e}", path.display());
                for (collection, index) in members {
                    failures.push(ItemFailure {
                        collection,
                        index,
                        disposition: Disposition::Retry,
                        message: message.clone(),
                    });
                }
            }
        }
        // Forget series of other days now and then, so the map stays small.
        if self.current.len() > 64 {
            self.current.clear();
        }
        failures
    }
}

struct Item<'a> {
    collection: Collection,
    collection_name: &'static str,
    index: u32,
    seconds: i64,
    json: &'a str,
}

impl Guest for Plugin {
    fn initialize_database(config: Config) -> Result<(), String> {
        // A bad setting never becomes good by retrying: say so, and the host stops trying
        // until its configuration changes. A directory that cannot be created may be a
        // missing grant or a disk not yet mounted: retried.
        let settings = parse_config(&config).inspect_err(|e| give_up(e))?;
        fs::create_dir_all(&settings.dir).map_err(|e| {
            format!("cannot create directory {}: {e} (is it granted to the plugin?)", settings.dir.display())
        })?;
        let meta = fs::metadata(&settings.dir)
            .map_err(|e| format!("cannot open directory {}: {e}", settings.dir.display()))?;
        if !meta.is_dir() {
            return Err(format!("{} is not a directory", settings.dir.display()));
        }
        log(
            Level::Info,
            &format!(
                "writing JSON Lines to {} (rotating at {} bytes and by UTC day)",
                settings.dir.display(),
                settings.max_bytes
            ),
        );
        STATE.with(|s| *s.borrow_mut() = Some(State { settings, current: BTreeMap::new() }));
        Ok(())
    }

    fn send_batch(events: Vec<Event>, stats: Vec<Stat>) -> Result<(), SendError> {
        STATE.with(|s| {
            let mut guard = s.borrow_mut();
            let state = guard
                .as_mut()
                .ok_or_else(|| SendError::Retry("send-batch before initialize-database".into()))?;
            let total = events.len() + stats.len();
            let mut items = Vec::with_capacity(total);
            for (i, e) in events.iter().enumerate() {
                items.push(Item {
                    collection: Collection::Events,
                    collection_name: "events",
                    index: i as u32,
                    seconds: e.timestamp.seconds,
                    json: &e.json,
                });
            }
            for (i, st) in stats.iter().enumerate() {
                items.push(Item {
                    collection: Collection::Stats,
                    collection_name: "stats",
                    index: i as u32,
                    seconds: st.timestamp.seconds,
                    json: &st.json,
                });
            }
            let failures = state.write(items);
            if failures.is_empty() {
                return Ok(());
            }
            // Nothing written, all for the same reason: say so plainly.
            if failures.len() == total
                && failures.iter().all(|f| f.disposition == Disposition::Retry && f.message == failures[0].message)
            {
                log(Level::Warn, &format!("batch of {total} not written: {}", failures[0].message));
                return Err(SendError::Retry(failures[0].message.clone()));
            }
            log(
                Level::Warn,
                &format!("{} of {total} items not written: {}", failures.len(), failures[0].message),
            );
            Err(SendError::Partial(failures))
        })
    }
}

export!(Plugin);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days() {
        assert_eq!(utc_day(0), "1970-01-01");
        assert_eq!(utc_day(1_795_737_600), "2026-11-27");
        assert_eq!(utc_day(951_782_400), "2000-02-29");
        assert_eq!(utc_day(-1), "1969-12-31");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1048576"), Some(1 << 20));
        assert_eq!(parse_size("64MiB"), Some(64 << 20));
        assert_eq!(parse_size("2 KB"), Some(2000));
        assert_eq!(parse_size("x"), None);
    }
}

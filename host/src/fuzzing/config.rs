//! The configuration loader (see the module `fuzzing`).

use crate::config::{Config, ConfigSource};

/// YAML text → a [`Config`] or an error naming the cause, never a panic. Text naming a
/// `key_file` is skipped: reading whatever file it names is not the loader's input.
pub fn yaml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if text.contains("key_file") {
        return;
    }
    match Config::parse(text, ConfigSource::Inline(String::new())) {
        Ok(config) => {
            let _ = config.describe();
        }
        Err(err) => assert!(!format!("{err:#}").is_empty(), "an error without a cause"),
    }
}

//! Fuzz target: an encoded `AnalyticsStat`, the walker against prost (documents, item, quality figures) (`analytics_host::fuzzing::walk::stat`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    analytics_host::fuzzing::walk::stat(data);
});

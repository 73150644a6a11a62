//! Fuzz target: an encoded `AnalyticsStat`, the walker against prost (documents, item, quality figures) (`livekit_analytics_host::fuzzing::walk::stat`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    livekit_analytics_host::fuzzing::walk::stat(data);
});

//! Fuzz target: an encoded `AnalyticsEvent`, the walker against prost (documents and item) (`analytics_host::fuzzing::walk::event`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    analytics_host::fuzzing::walk::event(data);
});

//! Fuzz target: an encoded `AnalyticsEvent`, the walker against prost (documents and item) (`livekit_analytics_host::fuzzing::walk::event`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    livekit_analytics_host::fuzzing::walk::event(data);
});

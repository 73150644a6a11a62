//! Fuzz target: the read API's routes, parameters and cursors (`livekit_analytics_host::fuzzing::api::request`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    livekit_analytics_host::fuzzing::api::request(data);
});

//! Fuzz target: the read API's routes, parameters and cursors (`analytics_host::fuzzing::api::request`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    analytics_host::fuzzing::api::request(data);
});

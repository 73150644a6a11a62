//! Fuzz target: the webhook door's token and body path (`analytics_host::fuzzing::webhook::body`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    analytics_host::fuzzing::webhook::body(data);
});

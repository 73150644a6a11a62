//! Fuzz target: the configuration loader on YAML text (`livekit_analytics_host::fuzzing::config::yaml`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    livekit_analytics_host::fuzzing::config::yaml(data);
});

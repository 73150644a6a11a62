//! Fuzz target: the configuration loader on YAML text (`analytics_host::fuzzing::config::yaml`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    analytics_host::fuzzing::config::yaml(data);
});

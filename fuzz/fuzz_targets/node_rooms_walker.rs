//! Fuzz target: an encoded `AnalyticsNodeRooms`, the walker against prost (`analytics_host::fuzzing::walk::node_rooms`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    analytics_host::fuzzing::walk::node_rooms(data);
});

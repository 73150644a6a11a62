//! Loopback ports for test servers and hosts.

use std::collections::HashSet;
use std::net::{Ipv4Addr, TcpListener};
use std::sync::{Mutex, OnceLock};

/// A loopback port that was free a moment ago (bound to port 0, then released). One
/// process never gets the same port twice, so two servers started by one test crate cannot
/// be handed the same port.
pub fn free_port() -> u16 {
    static GIVEN: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    let given = GIVEN.get_or_init(Default::default);
    loop {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a loopback port");
        let port = listener.local_addr().expect("local address").port();
        drop(listener);
        if given.lock().unwrap().insert(port) {
            return port;
        }
    }
}

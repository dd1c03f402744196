#![no_main]
//! Everything a contact sends after the handshake: wire decoding, the
//! session's message handler, the encrypted store, and the views front ends
//! display (names sanitized, dates clamped).
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

fn harness() -> &'static std::sync::Mutex<kith_node::fuzzing::Inbound> {
    static H: OnceLock<std::sync::Mutex<kith_node::fuzzing::Inbound>> = OnceLock::new();
    H.get_or_init(|| std::sync::Mutex::new(kith_node::fuzzing::Inbound::new()))
}

fuzz_target!(|data: &[u8]| {
    let h = harness().lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    h.run(data);
});

#![no_main]
//! Peer messages as they arrive inside a session record.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kith_core::fuzzing::wire_frame(data));

#![no_main]
//! The messages of a meeting in person, as a peer sends them after the session handshake.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kith_core::fuzzing::meet_message(data));

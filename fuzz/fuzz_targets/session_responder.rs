#![no_main]
//! Handshake messages and records as a responder with fixed keys reads them.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kith_session::fuzzing::session_responder(data));

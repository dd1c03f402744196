#![no_main]
//! A responder with fixed keys and ephemerals, fed handshake messages and
//! records: raw frames, genuine handshakes from any initiator key, any
//! claimed identity in the finish, tampered handshake bytes, and record round
//! trips (the modes are documented on `kith_session::fuzzing::session_responder`).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kith_session::fuzzing::session_responder(data));

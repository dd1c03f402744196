#![no_main]
//! The steps of an introduction, as a contact sends them in a session.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kith_core::fuzzing::introduction_message(data));

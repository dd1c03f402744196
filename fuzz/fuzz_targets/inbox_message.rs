#![no_main]
//! The inbox exchange (`docs/protocol.md` § 11): what a dropper sends to an
//! inbox, and what it answers.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kith_core::fuzzing::inbox_message(data));

#![no_main]
//! A sync frame (`docs/protocol.md` § 14.4): decode, re-encode, decode.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kith_sync::fuzzing::sync_frame(data));

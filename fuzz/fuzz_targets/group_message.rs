#![no_main]
//! A relayed group message (`docs/protocol.md` § 14.1): decoding and
//! verification; whatever verifies has the id of its bytes.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kith_sync::fuzzing::group_message(data));

#![no_main]
//! One reconciliation message (`docs/protocol.md` § 14.3): the decoder's
//! round trip, and a responder over a fixed replica answering it.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kith_sync::fuzzing::reconcile_message(data));

#![no_main]
//! One reconciliation message (`docs/protocol.md` § 14.3): the decoder's
//! round trip, and a responder and an initiator over a fixed replica
//! taking it (or refusing it with a typed error).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kith_sync::fuzzing::reconcile_message(data));

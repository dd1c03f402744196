#![no_main]
//! The reconciliation state machine (`docs/protocol.md` § 14.3) fed a run
//! of messages from a hostile peer: bounded, never a panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kith_sync::fuzzing::reconcile_session(data));

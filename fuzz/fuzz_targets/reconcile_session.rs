#![no_main]
//! The reconciliation state machines (`docs/protocol.md` § 14.3): two
//! honest sides over sets drawn from the input end knowing exactly their
//! difference; then a run of messages from a hostile peer, to either role:
//! bounded, never a panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kith_sync::fuzzing::reconcile_session(data));

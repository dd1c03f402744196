#![no_main]
//! Group invitations, answers, sync frames and reveals (tags 18 to 21) as
//! they arrive in a session.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kith_core::fuzzing::group_wire(data));

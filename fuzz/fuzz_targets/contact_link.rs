#![no_main]
//! Contact links: `kith://…` text as pasted or scanned.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kith_core::fuzzing::contact_link(data));

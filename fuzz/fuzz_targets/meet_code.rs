#![no_main]
//! Meet codes: `kith-meet:…` text as scanned from a QR code or pasted.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kith_core::fuzzing::meet_code(data));

#![no_main]
//! Any text through the file-name sanitizer (a sender's local names).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kith_core::fuzzing::file_name(data));

#![no_main]
//! A fetched feed body (RSS, Atom) through the feed parser.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kith_core::fuzzing::feed(data));

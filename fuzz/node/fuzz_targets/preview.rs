#![no_main]
//! A picture a contact sent, through the preview decoder (PNG, JPEG) with
//! its bounds against decompression bombs.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kith_node::fuzzing::preview(data);
});
